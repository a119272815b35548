"""Which of the package's extras a command needs, and the one line that says so when it is missing.

`pip install convgrade` holds what grading one notebook needs (`grade NB`,
`grade NB --public`, the in-notebook check): a student's install. The staff
commands' libraries are extras (pyproject.toml), so a student never
downloads them. A command that needs one calls `require_extra` before it
imports them, and a missing extra is one line naming the `pip install` that
brings it, never an ImportError's traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from grader.errors import UsageError

# Each extra -> the modules it brings (as imported, not as named on PyPI). An extra that
# includes another (staff includes feedback) lists its modules too.
_FEEDBACK = ("matplotlib", "PIL", "nbconvert", "nh3")
EXTRAS: Mapping[str, tuple[str, ...]] = {
    "feedback": _FEEDBACK,                      # grade NB --feedback: the feedback page
    "staff": (*_FEEDBACK, "yaml", "rich", "packaging"),   # grade batch, grade report, grade gradescope
    "cluster": ("distributed",),                # grade batch --scheduler
}


class MissingExtra(UsageError):
    """A command whose libraries (an extra of the package) are not installed."""


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here; [] when it is installed."""
    return [name for name in EXTRAS[extra] if not _importable(name)]


def require_extra(extra: str, command: str) -> None:
    """Raise MissingExtra, naming the install, when `command`'s extra is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(f"{command} needs convgrade[{extra}]: pip install 'convgrade[{extra}]' "
                           f"(missing: {', '.join(missing)})")


def _importable(name: str) -> bool:
    try:
        # None for a module that is absent (or blocked: None in sys.modules); nothing is imported.
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
