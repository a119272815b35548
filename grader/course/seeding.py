"""Seeds that make grading deterministic and hidden inputs unguessable.

Every random input comes from HMAC(course secret, submission digest, label):
the same submission always meets the same inputs, a changed submission meets
new ones, and nobody without the secret can predict them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grader.course import Course


@dataclasses.dataclass(frozen=True)
class CourseSecret:
    """The secret a grading session seeds with. Only `course_secret` makes one, after the file exists:
    a zygote is launched from a CourseSecret, so it can hide the file from workers."""

    value: bytes = dataclasses.field(repr=False)
    file: Path | None              # where it lives; None: given as a value (CONVGRADE_SECRET, a batch's task)


def default_secret_file() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "convgrade" / "secret"


def secret_file(course: Course, chosen: Path | None = None) -> Path:
    """`chosen`, else the course's `secret`, else one per user under XDG_CONFIG_HOME."""
    return chosen or course.secret or default_secret_file()


def course_secret(course: Course, chosen: bytes | Path | None = None) -> CourseSecret:
    """`chosen` (a value, or the file that holds it), else the course's secret file, made (mode 0600)
    on first use so that one machine grades deterministically without any setup."""
    if isinstance(chosen, bytes):
        return CourseSecret(chosen, None)
    path = secret_file(course, chosen)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".secret-{os.getpid()}")
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(staged, path)  # atomic: two graders starting at once agree on one secret
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    return CourseSecret(path.read_bytes().strip(), path)


def derive_seed(secret: bytes, digest: str, label: str) -> int:
    mac = hmac.new(secret, f"{digest}\x00{label}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1
