"""What "confined" means: the steps that must all be in force before hidden tests run.

Portable (no Linux-only import): the grader decides on every platform, and the worker reports.
"""

from __future__ import annotations

from typing import Any

# Together they keep the secret, the hidden tests, the host, the network and every other student out of reach.
CONFINED_BY = ("private_root", "network_namespace", "pid_namespace", "private_proc", "ipc_namespace",
               "private_tmp", "privileges_dropped", "process_limit")


def missing_confinement(isolation: dict[str, Any]) -> list[str]:
    """The steps of CONFINED_BY that are not in force; [] when confined."""
    return [key for key in CONFINED_BY if isolation.get(key) is not True]
