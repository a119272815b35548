"""Grading many notebooks: collect, run (locally or on a cluster), the gradebook and its exports."""
