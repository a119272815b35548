"""The grader inside other tools: pytest, Gradescope, pip constraints."""
