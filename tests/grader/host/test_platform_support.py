"""Which worker source this platform gets: the confined fork server needs Linux, fork, SCM_RIGHTS, pwd and
resource; without any of them grading takes the plain path, and says why."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from grader.course.seeding import CourseSecret
from grader.host import platform_support
from grader.host.plain_workers import PlainLaunch
from grader.worker.confinement import CONFINED_BY, missing_confinement


def test_this_linux_machine_gets_the_fork_server() -> None:
    assert sys.platform.startswith("linux") and platform_support.portable_reason() is None


def test_each_missing_piece_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fork")
    assert platform_support.portable_reason() == "this Python has no os.fork"
    monkeypatch.delattr(socket, "send_fds")
    monkeypatch.setitem(sys.modules, "pwd", None)
    monkeypatch.setitem(sys.modules, "resource", None)
    assert platform_support.portable_reason() == ("this Python has no os.fork, SCM_RIGHTS (socket.send_fds), pwd "
                                                  "or resource")


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_another_system_has_no_namespaces(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert platform_support.portable_reason() == f"{platform} has no Linux namespaces, seccomp or fork server"


def test_without_fork_the_launch_is_plain_and_its_isolation_confines_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fork")
    launched = platform_support.launch(CourseSecret(b"s", None), allow_unconfined=True)
    assert launched == PlainLaunch(reason="this Python has no os.fork", allow_unconfined=True)
    isolation = launched.isolation()
    assert missing_confinement(isolation) == list(CONFINED_BY)
    assert isolation["confined"] is False and isolation["unconfined_allowed"] is True
    assert "unconfined_allowed" not in PlainLaunch(reason="x", allow_unconfined=False).isolation()
