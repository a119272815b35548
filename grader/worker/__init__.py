"""What runs beside student code: the zygote, the worker, its confinement, and the wire it speaks.

Nothing here imports from the rest of `grader`: a test loads the entry points in a fresh
interpreter and checks it. Student code can read every file in this folder."""
