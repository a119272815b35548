"""Seeds that make grading deterministic and hidden inputs unguessable.

Every random input comes from HMAC(course secret, submission digest, label):
the same submission always meets the same inputs, a changed submission meets
new ones, and nobody without the secret can predict them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from grader.host.paths import secret_file

SECRET_ENVIRONMENT = "CONVGRADE_SECRET"  # noqa: S105 - the variable's name; its value is the secret
def course_secret() -> bytes:
    """`$CONVGRADE_SECRET`, else a secret file, made (mode 0600) on first use so
    that one machine grades deterministically without any setup."""
    value = os.environ.get(SECRET_ENVIRONMENT)
    if value:
        return value.encode()
    path = secret_file()
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
    return path.read_bytes().strip()


def derive_seed(secret: bytes, digest: str, label: str) -> int:
    mac = hmac.new(secret, f"{digest}\x00{label}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1
