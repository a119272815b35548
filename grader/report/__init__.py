"""What a grade looks like to its readers: the table, the CI formats, the feedback page."""
