"""The sandbox: what student code can reach, as root and unprivileged, one hostile notebook per attack class.

Each notebook prints (or returns) what its probes found, and the test asserts
the safe outcome on that. Grading as an unprivileged user runs `grade` as
`nobody` (tests/unprivileged.py) on copies of what it needs.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import course
from grader.course import COURSE_FILE
from grader.errors import UsageError
from grader.grading.pipeline import check_confinement, unconfined_note
from grader.grading.student import StudentProxy
from grader.host.execute import Execution, Limits, Zygote
from grader.host.paths import PROJECT_ROOT, assignments_root
from grader.session import Grader
from grader.worker import sandbox
from tests.helpers import SCALE, SOLVED_CORR2D, TESTS_SECRET, MakeNotebook
from tests.unprivileged import run_as_nobody

FAST = Limits(call_timeout=20.0, cell_timeout=20.0, budget=120.0)
SOLVED_TOY = SOLVED_CORR2D + "\n" + SCALE + "\n"
CONFINED = dict.fromkeys(sandbox.CONFINED_BY, True)


def python_below(folder: Path) -> set[str]:
    """The first component under `folder` of each of Python's prefixes that lives there."""
    prefixes = {Path(p) for p in (sys.prefix, sys.base_prefix)}
    prefixes |= {p.resolve() for p in prefixes}
    return {p.relative_to(folder).parts[0] for p in prefixes if p.is_relative_to(folder) and p != folder}


def run(zygote: Zygote, *cells: str) -> tuple[Execution, StudentProxy]:
    execution = Execution(zygote, tuple(cells), seed=1, limits=FAST)
    execution.run_notebook()
    return execution, StudentProxy(execution.call, from_scratch=frozenset())


def probe(zygote: Zygote, source: str) -> Any:
    """Run `source`, which defines probe(), in a fresh worker and return what probe() returns."""
    execution, student = run(zygote, source)
    with execution:
        return student.call("probe")


@pytest.mark.root
def test_a_worker_sees_only_its_own_process_in_proc(zygote: Zygote) -> None:
    found = probe(zygote, """
import os
def probe():
    pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
    lines = [open(f'/proc/{p}/cmdline', 'rb').read().decode(errors='replace') for p in pids]
    return {'pids': pids, 'cmdlines': lines, 'parent': os.getppid()}
""")
    assert found["pids"] == [1] and found["parent"] == 0  # PID 1 of its own namespace; its parent is outside
    seen = " ".join(found["cmdlines"])
    assert "pytest" not in seen and str(assignments_root()) not in seen and "hidden" not in seen


@pytest.mark.root
def test_the_checkout_its_history_the_course_and_the_secret_are_absent(
        zygote: Zygote, make_notebook: MakeNotebook, toy_assignments: Path) -> None:
    peer = make_notebook(SOLVED_TOY, assignment="toy", name="peer.ipynb")  # a batch's input, say
    private = {"checkout .git": PROJECT_ROOT / ".git", "reference": PROJECT_ROOT / "reference",
               "course assignments": PROJECT_ROOT / "assignments", "the tests": PROJECT_ROOT / "tests",
               "hidden tests": toy_assignments / "toy" / "hidden_tests.py", "a peer's notebook": peer,
               "a peer's folder": peer.parent}
    found = probe(zygote, f"""
import os, subprocess
def probe():
    seen = {{name: os.path.exists(path) for name, path in {({k: str(v) for k, v in private.items()})!r}.items()}}
    try:
        subprocess.run(['git', '-C', {str(PROJECT_ROOT)!r}, 'show', 'HEAD:README.md'], capture_output=True)
        seen['git ran'] = True
    except (OSError, RuntimeError):  # RuntimeError: the guard refuses it before the kernel would
        seen['git ran'] = False
    try:
        import reference
        seen['reference imported'] = True
    except ImportError:
        seen['reference imported'] = False
    home = os.listdir({str(Path.home())!r}) if os.path.exists({str(Path.home())!r}) else []
    return {{'seen': seen, 'checkout': sorted(os.listdir({str(PROJECT_ROOT)!r})), 'root': sorted(os.listdir('/')),
            'home': sorted(home)}}
""")
    assert all(path.exists() for path in private.values())  # there, for the grader
    assert not any(found["seen"].values()), found["seen"]  # gone, for the worker
    assert set(found["checkout"]) == {"grader"} | python_below(PROJECT_ROOT)  # the package alone (and a venv there)
    assert set(found["home"]) <= python_below(Path.home())  # of the home folder, only Python's (pyenv's) folder
    assert "mnt" not in found["root"] and "srv" not in found["root"]


@pytest.mark.slow
@pytest.mark.root
def test_a_private_folder_inside_what_the_root_binds_is_still_hidden(toy_assignments: Path) -> None:
    """A batch's output folder, say, that lives inside the virtual environment the workers need."""
    private = Path(tempfile.mkdtemp(prefix="convgrade-private-", dir=sys.prefix))
    try:
        (private / "grades.csv").write_text("alice,100\n")
        with Grader(course.active(), secret=TESTS_SECRET, hide=(private,)) as grader:
            found = probe(grader.zygote(), f"import os\ndef probe():\n    return os.listdir({str(private)!r})")
        assert found == []
    finally:
        shutil.rmtree(private)


@pytest.mark.root
def test_temporary_folders_are_private_to_each_worker(zygote: Zygote) -> None:
    folders = ("/tmp", "/var/tmp", "/dev/shm")
    probe(zygote, f"""
import os
def probe():
    for folder in {folders!r}:
        with open(os.path.join(folder, 'left-for-the-next-student'), 'w') as handle:
            handle.write('copy me')
    return 1
""")
    found = probe(zygote, f"""
import os
def probe():
    return [os.path.exists(os.path.join(folder, 'left-for-the-next-student')) for folder in {folders!r}]
""")
    assert found == [False, False, False]
    assert not any(Path(folder, "left-for-the-next-student").exists() for folder in folders)  # nor on the host


@pytest.mark.root
def test_no_new_process_starts_but_threads_do(zygote: Zygote) -> None:
    # Two layers refuse a process: the guard's audit hook (RuntimeError) and, below it, seccomp (EPERM).
    found = probe(zygote, """
import os, subprocess, torch
def probe():
    started, refused = 0, set()
    for _ in range(300):
        try:
            if os.fork() == 0:
                import time
                time.sleep(60)
                os._exit(0)
            started += 1
        except (OSError, RuntimeError) as error:
            refused.add(type(error).__name__)
    try:
        subprocess.Popen(['sleep', '60'])
        popen = 'started'
    except (OSError, RuntimeError):
        popen = 'refused'
    torch.set_num_threads(2)
    product = float((torch.ones(512, 512) @ torch.ones(512, 512)).sum())
    threads = int(next(l for l in open('/proc/self/status') if l.startswith('Threads:')).split()[1])
    return {'started': started, 'refused': len(refused), 'popen': popen, 'threads': threads,
            'product': product}
""")
    assert found["started"] == 0 and found["refused"] == 1 and found["popen"] == "refused"
    assert found["threads"] >= 2 and found["product"] == 512.0 ** 3  # torch's intra-op pool still starts


def test_the_seccomp_filter_alone_refuses_processes_and_allows_threads() -> None:
    """The kernel layer on its own, as if student code had got past the guard."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        outcome: dict[str, object] = {}
        try:
            outcome["installed"] = sandbox.forbid_new_processes()
            try:
                child = os.fork()
                if child == 0:
                    os._exit(0)
                outcome["fork"] = "started"
            except OSError as error:
                outcome["fork"] = error.errno
            try:
                subprocess.Popen(["true"])
                outcome["popen"] = "started"
            except OSError as error:
                outcome["popen"] = error.errno
            ran: list[bool] = []
            thread = threading.Thread(target=lambda: ran.append(True))
            thread.start()
            thread.join()
            outcome["thread"] = ran == [True]
        finally:
            os.write(writing, json.dumps(outcome).encode())
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        outcome = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert outcome == {"installed": True, "fork": errno.EPERM, "popen": errno.EPERM, "thread": True}


@pytest.mark.root
def test_isolation_records_every_step_in_force(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f():\n    return 1")
    with execution:
        student.call("f")
        isolation = execution.summary().isolation
    assert sandbox.missing_confinement(dict(isolation)) == [] and isolation["confined"] is True
    assert isolation["user"] == "nobody" and "unconfined_allowed" not in isolation


def test_hidden_tests_are_refused_without_confinement_and_say_how_to_get_it() -> None:
    isolation = {**CONFINED, "pid_namespace": False, "private_root": False, "confined": False}
    with pytest.raises(UsageError) as refused:
        check_confinement(isolation, public_only=False)
    message = refused.value.message
    assert "\n" not in message and "not in force: private_root, pid_namespace" in message
    assert "root" in message and "user.max_user_namespaces" in message and "--unconfined" in message
    check_confinement(isolation, public_only=True)  # the public tests hold nothing to protect
    check_confinement({**isolation, "unconfined_allowed": True}, public_only=False)
    check_confinement({**CONFINED, "confined": True}, public_only=False)
    assert "graded unconfined" in str(unconfined_note(isolation, public_only=False))
    assert unconfined_note({**CONFINED, "confined": True}, public_only=False) is None


# Unprivileged: `grade` run as nobody, with its own copies of what it needs.


@pytest.fixture
def as_nobody(toy_assignments: Path) -> Iterator[Path]:
    """A folder that nobody owns, holding a copy of the toy assignments and a home."""
    folder = Path(tempfile.mkdtemp(prefix="convgrade-nobody-"))
    try:
        shutil.copytree(toy_assignments, folder / "assignments")
        (folder / COURSE_FILE).write_text('[course]\nname = "nobody\'s course"\n')
        (folder / "home").mkdir()
        (folder / "results").mkdir()
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, 65534, 65534)
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def grade_as_nobody(folder: Path, cells: tuple[str, ...], *options: str, refuse_namespaces: bool = False,
                    command: tuple[str, ...] = ()) -> tuple[int, str, dict[str, Any] | None]:
    """`grade [COMMAND] folder/submission.ipynb --results ... OPTIONS` as nobody; its exit status, output, results."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    notebook.metadata["convgrade"] = {"assignment": "toy"}
    path = folder / "submission.ipynb"
    nbformat.write(notebook, path)
    os.chown(path, 65534, 65534)
    results = folder / "results" / "results.json"
    results.unlink(missing_ok=True)
    environment = {"HOME": str(folder / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                   "CONVGRADE_COURSE": str(folder), "CONVGRADE_SECRET": "secret-5c1e-course",
                   "CI_JOB_TOKEN": "token-77ad-ci"}
    arguments = [*command, str(path)] + ([] if command else ["--results", str(results)])
    # The `grade` command's own entry point: its warm start forks the zygote.
    finished = run_as_nobody(["-c", "from grader.host.warm_start import main_entry; main_entry()", *arguments,
                              *options],
                             environment, folder, refuse_namespaces=refuse_namespaces)
    document = json.loads(results.read_text()) if results.exists() else None
    return finished.returncode, finished.stdout + finished.stderr, document


HOSTILE = """
import os, signal, socket
found = {}
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    for name in ('environ', 'cmdline'):
        try:
            text = open(f'/proc/{pid}/{name}', 'rb').read().decode(errors='replace')
        except OSError:
            text = ''
        if 'secret-5c1e' in text or 'token-77ad' in text:
            found['leak in /proc'] = f'{pid}/{name}'
found['environment'] = sorted(k for k in os.environ if 'SECRET' in k or 'TOKEN' in k)
found['hidden tests'] = os.path.exists(HIDDEN)
found['gradebook folder'] = os.path.exists(RESULTS)
try:
    socket.create_connection(('127.0.0.1', PORT), timeout=2).sendall(b'secret')
    found['network'] = 'connected'
except OSError:
    found['network'] = 'unreachable'
found['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
try:
    os.kill(-1, signal.SIGKILL)  # every process this one may signal: the grader's too, were it reachable
    found['kill -1'] = 'sent'
except OSError:
    found['kill -1'] = 'nobody to kill'
print('PROBES', repr(found))
"""


@pytest.mark.slow
@pytest.mark.root
def test_an_unprivileged_grader_confines_student_code_in_a_user_namespace(as_nobody: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    hostile = (HOSTILE.replace("HIDDEN", repr(str(as_nobody / "assignments" / "toy" / "hidden_tests.py")))
               .replace("RESULTS", repr(str(as_nobody / "results"))).replace("PORT", str(port)))
    code, output, document = grade_as_nobody(as_nobody, (hostile, SOLVED_TOY))
    assert code == 0, output
    assert document is not None and document["score"] == 100.0  # every hidden test ran, the grader was not killed
    isolation = document["extra_data"]["isolation"]
    assert isolation["user_namespace"] is True and isolation["confined"] is True, isolation
    assert isolation["warm_start"] is True
    student = document["extra_data"]["student_output"]
    found = ast.literal_eval(student.split("PROBES ", 1)[1].splitlines()[0])
    assert found["environment"] == [] and "leak in /proc" not in found
    assert found["hidden tests"] is False and found["gradebook folder"] is False
    assert found["network"] == "unreachable" and found["pids"] == [1] and found["kill -1"] == "nobody to kill"
    with pytest.raises(BlockingIOError):
        listener.accept()  # no connection ever reached the host's loopback
    listener.close()


@pytest.mark.slow
@pytest.mark.root
def test_without_namespaces_hidden_tests_are_refused_and_public_or_unconfined_still_grade(as_nobody: Path) -> None:
    code, output, document = grade_as_nobody(as_nobody, (SOLVED_TOY,), refuse_namespaces=True)
    lines = [line for line in output.splitlines() if line.startswith("grade:")]
    assert code == 2 and document is None and len(lines) == 1, output
    assert ("refusing to run hidden tests" in lines[0] and "user namespaces" in lines[0]
            and "network_namespace" in lines[0])

    code, output, document = grade_as_nobody(as_nobody, (SOLVED_TOY,), "--public", refuse_namespaces=True)
    assert code == 0 and document is not None and document["score"] == 20.0, output
    assert not any("hidden" in test["tags"] for test in document["tests"])

    code, output, document = grade_as_nobody(as_nobody, (SOLVED_TOY,), "--unconfined", refuse_namespaces=True)
    assert code == 0 and document is not None and document["score"] == 100.0, output
    isolation = document["extra_data"]["isolation"]
    assert isolation["confined"] is False and isolation["unconfined_allowed"] is True
    assert "graded unconfined (--unconfined)" in output  # the table's notes say so

    gradebook = as_nobody / "gradebook"
    code, output, _ = grade_as_nobody(as_nobody, (SOLVED_TOY,), "--out", str(gradebook), command=("batch",),
                                      refuse_namespaces=True)
    lines = [line for line in output.splitlines() if line.startswith("grade:")]
    assert code == 2 and len(lines) == 1 and "refusing to run hidden tests" in lines[0], output
    assert not (gradebook / "gradebook.sqlite").exists() and not (gradebook / "grades.csv").exists()
