"""The stages of grading one notebook: load -> execute -> test -> score."""
