"""The pinned dependency tree of an install: pip's constraints file, from this environment's versions.

A Gradescope bundle carries one (grader.integrations.gradescope), and its setup.sh installs
through it, so that every rebuild of the autograder's image installs the
same libraries as the environment that built the bundle, whatever PyPI has
published since. The tree is read from the installed distributions'
metadata (importlib.metadata), following each requirement whose markers hold
on Gradescope's image (Linux) for the extras asked for.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.errors import UsageError

# Gradescope's autograder image is Ubuntu, whatever machine builds the bundle.
TARGET = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}


def pinned_tree(project: str, extras: Iterable[str], *, target: dict[str, str] | None = None) -> dict[str, str]:
    """{distribution: installed version} for everything `project[extras]` installs, `project` itself excluded."""
    environment: dict[str, str] = {key: str(value) for key, value in default_environment().items()}
    environment.update(platform_machine=platform.machine(), **(target or TARGET))
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(project, extra) for extra in ("", *extras)]
    while todo:
        name, extra = todo.pop()
        key = canonicalize_name(name)
        if (key, extra) in seen:
            continue
        seen.add((key, extra))
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise UsageError(f"{name} is not installed here, so its version cannot be pinned: install "
                              f"{project}[{','.join(extras)}] where you build the bundle") from None
        if key != canonicalize_name(project):
            pins[key] = distribution.version
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": extra}):
                todo += [(requirement.name, wanted) for wanted in ("", *requirement.extras)]
    return dict(sorted(pins.items()))


def constraints_file(project: str, extras: Iterable[str], header: str) -> str:
    """pip's constraints file (`name==version` lines) for `pinned_tree(project, extras)`."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{name}=={version}" for name, version in pinned_tree(project, extras).items()]
    return "\n".join(lines) + "\n"
