"""The grader's handles on its workers: starting them, talking to them, killing them."""
