from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from grader.execute import Execution, Limits, Zygote
from grader.student import StudentProxy
from grader.testkit import StudentFailure

FAST = Limits(call_timeout=2.0, cell_timeout=4.0, budget=60.0)
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="confinement by namespaces and user needs root")


def run(zygote: Zygote, *cells: str, limits: Limits = FAST, seed: int = 1) -> tuple[Execution, StudentProxy]:
    execution = Execution(zygote, tuple(cells), seed=seed, limits=limits)
    execution.run_notebook()
    return execution, StudentProxy(execution.perform, from_scratch=frozenset({"cheat"}))


def test_cells_run_in_order_and_the_last_definition_wins(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f(x):\n    return x", "y = 3", "def f(x):\n    return x * y")
    with execution:
        assert student.f(torch.ones(2)).tolist() == [3.0, 3.0]


def test_a_raising_cell_does_not_stop_later_cells(zygote: Zygote) -> None:
    execution, student = run(zygote, "raise ValueError('broken cell')", "def f(x):\n    return x + 1")
    with execution:
        assert student.f(torch.zeros(1)).tolist() == [1.0]
        cells = execution.record().cells
    assert [c.status for c in cells] == ["error", "ok"]
    assert "ValueError: broken cell" in cells[0].message


def test_a_syntax_error_is_that_cell_s_error_only(zygote: Zygote) -> None:
    execution, student = run(zygote, "def broken(:\n    pass", "def f(x):\n    return x")
    with execution:
        assert student.f(torch.zeros(1)).tolist() == [0.0]
        assert execution.record().cells[0].status == "error"


def test_a_cell_that_loops_forever_times_out_and_later_cells_still_run(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f(x):\n    return x", "while True:\n    pass", "def g(x):\n    return -x")
    with execution:
        assert student.g(torch.ones(1)).tolist() == [-1.0]
        assert student.f(torch.ones(1)).tolist() == [1.0]  # defined before the loop, replayed into the new worker
        assert [c.status for c in execution.record().cells] == ["ok", "timeout", "ok"]


def test_a_function_that_hangs_fails_alone_and_fast_the_second_time(zygote: Zygote) -> None:
    execution, student = run(zygote, "def hang(x):\n    while True:\n        pass", "def f(x):\n    return x * 2")
    with execution:
        with pytest.raises(StudentFailure, match="did not finish") as first:
            student.hang(torch.ones(1))
        assert first.value.kind == "timeout"
        started = time.monotonic()
        with pytest.raises(StudentFailure, match="did not finish"):
            student.hang(torch.ones(1))
        assert time.monotonic() - started < 1.0  # not waited for again
        assert student.f(torch.ones(1)).tolist() == [2.0]


def test_os_exit_in_a_call_is_a_crash_and_a_fresh_worker_grades_the_rest(zygote: Zygote) -> None:
    execution, student = run(zygote, "import os\ndef die(x):\n    os._exit(0)", "def f(x):\n    return x + 5")
    with execution:
        with pytest.raises(StudentFailure) as failure:
            student.die(torch.ones(1))
        assert failure.value.kind == "crashed"
        assert student.f(torch.zeros(1)).tolist() == [5.0]
        assert execution.record().restarts == 1


def test_sys_exit_at_top_level_is_an_error_in_that_cell(zygote: Zygote) -> None:
    execution, student = run(zygote, "import sys\nsys.exit(0)", "def f(x):\n    return x")
    with execution:
        assert student.f(torch.ones(1)).tolist() == [1.0]
        assert execution.record().cells[0].status == "error"


def test_a_memory_blowup_is_the_student_s_error_not_the_grader_s(zygote: Zygote) -> None:
    execution, student = run(zygote, "import torch\ndef hog():\n    return torch.ones(2**40, dtype=torch.uint8)",
                             "def f(x):\n    return x")
    with execution:
        with pytest.raises(StudentFailure) as failure:
            student.hog()
        assert failure.value.kind in ("raised", "crashed")
        assert student.f(torch.ones(1)).tolist() == [1.0]


def test_shell_escapes_and_pip_are_skipped_with_a_note_and_time_magic_works(zygote: Zygote) -> None:
    execution, student = run(zygote, "!touch /tmp/convgrade-should-not-exist\n%pip install requests\n%time z = 4",
                             "def f(x):\n    return x * z")
    with execution:
        assert student.f(torch.ones(1)).tolist() == [4.0]
        record = execution.record()
    assert any("shell command" in note for note in record.notes)
    assert any("%pip" in note for note in record.notes)
    assert not Path("/tmp/convgrade-should-not-exist").exists()


def test_student_output_is_captured_not_printed(zygote: Zygote, capfd: pytest.CaptureFixture[str]) -> None:
    execution, student = run(zygote, "print('Score: 100/100')\nimport os\nos.write(1, b'raw write\\n')",
                             "def f(x):\n    print('inside f')\n    return x")
    with execution:
        student.f(torch.ones(1))
        record = execution.record()
    assert "Score: 100/100" in record.student_output and "inside f" in record.student_output
    seen = capfd.readouterr()
    assert "Score: 100/100" not in seen.out and "raw write" not in seen.out


def test_the_same_seed_gives_the_same_random_numbers(zygote: Zygote) -> None:
    values = []
    for _ in range(2):
        execution, student = run(zygote, "import torch\nnoise = torch.rand(3)", "def f():\n    return noise", seed=7)
        with execution:
            values.append(student.f().tolist())
    assert values[0] == values[1]


def test_library_convolutions_are_seen_at_the_dispatcher(zygote: Zygote) -> None:
    execution, student = run(zygote, "import torch\nop = getattr(torch.nn.functional, 'conv' + '2d')\n"
                                     "def cheat(X, K):\n    return op(X[None, None], K[None, None])[0, 0]")
    with execution:
        student.cheat(torch.ones(4, 4), torch.ones(2, 2))
    assert student.library_convolutions == {"cheat": {"aten.convolution.default"}}


@ROOT_ONLY
def test_isolation_in_force_is_recorded(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f():\n    return 1")
    with execution:
        student.call("f")
        isolation = execution.record().isolation
    assert isolation["user"] == "nobody"
    assert isolation["network_namespace"] and isolation["pid_namespace"] and isolation["private_root"]
    assert isolation["memory_cap_bytes"] > 0


@ROOT_ONLY
def test_the_worker_cannot_reach_the_network_or_the_hidden_tests(zygote: Zygote, toy_assignments: Path) -> None:
    hidden = toy_assignments / "toy" / "hidden_tests.py"
    execution, student = run(zygote, f"""
import os, socket
def probe():
    found = []
    try:
        found.append(open({str(hidden)!r}).read())
    except OSError as error:
        found.append('unreadable')
    try:
        socket.create_connection(('127.0.0.1', 9), timeout=1)
        found.append('network')
    except OSError:
        found.append('no network')
    found.append(str(os.getuid()))
    found.append('secret' if 'CONVGRADE_SECRET' in os.environ else 'no secret')
    return found
""")
    with execution:
        found = student.call("probe")
    assert found == ["unreadable", "no network", str(65534), "no secret"]


def test_a_background_process_cannot_even_start(zygote: Zygote) -> None:
    # The guard (grader.guard) refuses every new process, so student code has none to leave behind.
    execution, student = run(zygote, """
import os, time
def spawn():
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    return 1
""")
    with execution:
        with pytest.raises(StudentFailure, match="os.fork is not allowed while grading"):
            student.call("spawn")
