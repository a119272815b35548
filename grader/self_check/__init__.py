"""`check()` in a student's notebook: its cells, its grading process, its report."""
