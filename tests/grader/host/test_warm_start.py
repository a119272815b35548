"""The `grade` command's warm start: one torch import for the grader and its zygote, and no secret in the zygote."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import cli
from grader.host import warm_start
from tests.helpers import SCALE, SOLVED_CORR2D, TOY_ASSIGNMENTS, MakeNotebook, loaded_after_importing, use_course

GRADE = Path(sys.executable).parent / "grade"

LOOPS = "while True:\n    pass"


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, as /proc has them now."""
    children: dict[int | None, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            children.setdefault(parent_of(int(entry.name)), []).append(int(entry.name))
    below, waiting = [], [pid]
    while waiting:
        for child in children.get(waiting.pop(), []):
            below.append(child)
            waiting.append(child)
    return sorted(below)


def holds(pid: int, value: bytes) -> bool:
    """Whether the process's readable memory holds `value` (read as root, through /proc/PID/mem)."""
    process = Path(f"/proc/{pid}")
    with (process / "maps").open() as maps, (process / "mem").open("rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vvar_vclock]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            for at in range(start, end, 1 << 24):
                try:
                    memory.seek(at)
                    if value in memory.read(min(end, at + (1 << 24) + len(value)) - at):
                        return True
                except OSError:
                    continue
    return False


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_guess_names_every_command() -> None:
    assert set(warm_start.GRADING_COMMANDS) | set(warm_start.OTHER_COMMANDS) == {*cli._COMMANDS, "help"}
    assert not set(warm_start.GRADING_COMMANDS) & set(warm_start.OTHER_COMMANDS)


@pytest.mark.parametrize(("arguments", "grades"), [
    (["nb.ipynb"], True), (["notebook", "nb.ipynb", "--results", "r.json"], True),
    (["batch", "in", "--out", "o"], True), (["audit"], True),
    ([], False), (["list"], False), (["help", "batch"], False), (["--version"], False),
    (["nb.ipynb", "--help"], False), (["batch", "in", "--out", "o", "--scheduler=tcp://host:8786"], False),
])
def test_the_command_line_tells_whether_it_grades_here(arguments: list[str], grades: bool) -> None:
    assert warm_start._grades_here(arguments) is grades


def test_the_zygote_inherits_no_grader_module_but_the_warm_start_and_its_warm_up() -> None:
    # What resume() has imported when it forks; warm_up() itself imports only torch and numpy.
    loaded = loaded_after_importing("grader.host.warm_start", "grader.worker.warm")
    assert {name for name in loaded if name.split(".")[0] == "grader"} == {
        "grader", "grader.environment", "grader.host", "grader.host.warm_start", "grader.worker",
        "grader.worker.warm"}


@pytest.mark.slow
@pytest.mark.root
def test_a_batch_forks_its_zygote_warm_keeps_secrets_from_it_and_leaves_nothing_behind_a_kill(
        make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = use_course(monkeypatch, TOY_ASSIGNMENTS)
    secret, credential = secrets.token_hex(16).encode(), secrets.token_hex(16).encode()
    for _ in range(2):
        make_notebook(SOLVED_CORR2D, SCALE, LOOPS, assignment="toy")
    environment = {**os.environ, "CONVGRADE_COURSE": str(root), "CONVGRADE_SECRET": secret.decode(),
                   "CI_JOB_TOKEN": credential.decode()}
    batch = subprocess.Popen([str(GRADE), "batch", str(tmp_path), "--out", str(tmp_path / "out"), "--jobs", "2",
                              "--quiet"], env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(below := descendants(batch.pid)) < 5 and time.monotonic() < deadline:  # zygote, 2 x (leader, worker)
            time.sleep(0.2)
        assert len(below) >= 5, below
        [zygote] = [pid for pid in below if parent_of(pid) == batch.pid]
        assert b"grader.host.warm_start" in Path(f"/proc/{zygote}/cmdline").read_bytes()  # forked, not exec'd
        assert holds(batch.pid, secret) and holds(batch.pid, credential)  # the search finds what is there
        for pid in below:
            assert not holds(pid, secret) and not holds(pid, credential), pid
    finally:
        batch.kill()
        batch.wait()
    time.sleep(2)
    survivors = [pid for pid in below if alive(pid)]
    for pid in survivors:  # so that a failure here leaves no loop burning a core
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    assert batch.returncode == -signal.SIGKILL


def test_the_forked_zygote_is_taken_once_and_answers_as_a_process_does(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    ours, theirs = socket.socketpair()
    theirs.close()
    forked = warm_start.ForkedZygote(pid)
    monkeypatch.setattr(warm_start, "_waiting", (forked, ours))
    assert warm_start.take_zygote() == (forked, ours)
    assert warm_start.take_zygote() is None  # a second session, or a replacement, execs its own
    assert forked.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        forked.wait(timeout=0.05)
    forked.kill()
    assert forked.wait(timeout=10) == -signal.SIGKILL
    assert forked.poll() == -signal.SIGKILL
    ours.close()
