"""What an assignment's test files import."""
