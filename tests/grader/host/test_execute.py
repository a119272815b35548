from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path

import pytest
import torch

from grader.authoring.testkit import GradedTest, StudentFailure
from grader.grading.student import EVIDENCE_LIMIT, MAX_EVIDENCE, StudentProxy
from grader.grading.testing import run_test
from grader.host.execute import MAX_NOTES, OUTPUT_IN_ALL, Execution, Limits, Zygote
from grader.records import CallBudgets
from grader.report.formats import gradescope
from grader.session import Grader
from grader.worker import wire
from grader.worker.quote import MESSAGE_LIMIT, QUOTE_LIMIT
from tests.helpers import MakeNotebook

FAST = Limits(call_timeout=2.0, cell_timeout=4.0, budget=60.0)


# Student code that writes onto its worker's socket, as a hostile worker would: the
# grader must hold whatever arrives there. `forge` sends one message and ends the
# worker, so that its own reply never follows.
WORKER_SOCKET = """
import json, os, socket, stat, struct, time
def worker_socket():
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return socket.socket(fileno=os.dup(fd))
        except OSError:
            pass
    raise RuntimeError("no socket")
def framed(document, payload=b""):
    return struct.pack("!QI", len(document) + len(payload), len(document)) + document + payload
def forge(document, payload=b""):
    worker_socket().sendall(framed(document, payload))
    os._exit(0)
"""


def run(zygote: Zygote, *cells: str, limits: Limits = FAST, seed: int = 1) -> tuple[Execution, StudentProxy]:
    execution = Execution(zygote, tuple(cells), seed=seed, limits=limits)
    execution.run_notebook()
    return execution, StudentProxy(execution.call, from_scratch=frozenset({"cheat"}))


@pytest.mark.slow
def test_cells_run_in_order_and_the_last_definition_wins(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f(x):\n    return x", "y = 3", "def f(x):\n    return x * y")
    with execution:
        assert student.f(torch.ones(2)).tolist() == [3.0, 3.0]


@pytest.mark.slow
def test_a_raising_cell_does_not_stop_later_cells(zygote: Zygote) -> None:
    execution, student = run(zygote, "raise ValueError('broken cell')", "def f(x):\n    return x + 1")
    with execution:
        assert student.f(torch.zeros(1)).tolist() == [1.0]
        cells = execution.summary().cells
    assert [c.status for c in cells] == ["error", "ok"]
    assert "ValueError: broken cell" in cells[0].message


def test_a_syntax_error_is_that_cell_s_error_only(zygote: Zygote) -> None:
    execution, student = run(zygote, "def broken(:\n    pass", "def f(x):\n    return x")
    with execution:
        assert student.f(torch.zeros(1)).tolist() == [0.0]
        assert execution.summary().cells[0].status == "error"


@pytest.mark.slow
def test_a_cell_that_loops_forever_times_out_and_later_cells_still_run(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f(x):\n    return x", "while True:\n    pass", "def g(x):\n    return -x")
    with execution:
        assert student.g(torch.ones(1)).tolist() == [-1.0]
        assert student.f(torch.ones(1)).tolist() == [1.0]  # defined before the loop, replayed into the new worker
        assert [c.status for c in execution.summary().cells] == ["ok", "timeout", "ok"]


@pytest.mark.slow
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


def test_os_exit_in_a_call_exhausts_that_function_as_a_timeout_does_and_a_fresh_worker_grades_the_rest(
        zygote: Zygote) -> None:
    execution, student = run(zygote, "import os\ndef die(x):\n    os._exit(0)", "def f(x):\n    return x + 5")
    with execution:
        with pytest.raises(StudentFailure) as failure:
            student.die(torch.ones(1))
        assert failure.value.kind == "timeout"
        assert "did not finish within 2 s of computing, ran out of memory or ended its process" in failure.value.message
        assert student.f(torch.zeros(1)).tolist() == [5.0]
        with pytest.raises(StudentFailure) as again:
            student.die(torch.ones(1))
        assert again.value.message == failure.value.message
        record = execution.summary()
        assert (record.restarts, record.crashes) == (1, 1)  # the second call never reached a worker


def test_sys_exit_at_top_level_is_an_error_in_that_cell(zygote: Zygote) -> None:
    execution, student = run(zygote, "import sys\nsys.exit(0)", "def f(x):\n    return x")
    with execution:
        assert student.f(torch.ones(1)).tolist() == [1.0]
        assert execution.summary().cells[0].status == "error"


def test_a_memory_blowup_is_the_student_s_error_not_the_grader_s(zygote: Zygote) -> None:
    execution, student = run(zygote, "import torch\ndef hog():\n    return torch.ones(2**40, dtype=torch.uint8)",
                             "def f(x):\n    return x")
    with execution:
        with pytest.raises(StudentFailure) as failure:
            student.hog()
        assert failure.value.kind == "timeout" and "ran out of memory" in failure.value.message
        assert student.f(torch.ones(1)).tolist() == [1.0]


# Three ways a call can run away: each meets a different limit first, and all must fail alike.
RUNAWAYS = {
    "pure_loop": "def runaway(x):\n    while True:\n        pass",
    "torch_memory": "import torch\ndef runaway(x):\n    grown = []\n    while True:\n"
                    "        grown.append(torch.ones(8 << 20))",
    "python_memory": "def runaway(x):\n    grown = []\n    while True:\n        grown.append(bytearray(32 << 20))",
    "ends_its_worker": "import os\ndef runaway(x):\n    os._exit(1)",  # as the kernel's OOM killer would
}


@pytest.mark.parametrize("runaway", RUNAWAYS)
def test_a_call_that_runs_out_of_time_or_memory_or_dies_fails_the_same_way_and_fast_after(
        zygote: Zygote, runaway: str) -> None:
    limits = Limits(call_timeout=5.0, cell_timeout=6.0, budget=60.0, memory_bytes=256 << 20)
    budgets = CallBudgets({"runaway": 0.8}, 5.0, "calibrated")
    execution = Execution(zygote, (RUNAWAYS[runaway], "def f(x):\n    return x * 3"), seed=1, limits=limits,
                          budgets=budgets)
    execution.run_notebook()
    student = StudentProxy(execution.call)
    with execution:
        started = time.monotonic()
        with pytest.raises(StudentFailure) as first:
            student.runaway(torch.ones(1))
        first_seconds = time.monotonic() - started
        with pytest.raises(StudentFailure) as second:
            student.runaway(torch.ones(1))
        assert first_seconds < 0.8 + 1.5  # its own budget, not the call timeout (5 s)
        assert time.monotonic() - started - first_seconds < 0.2  # the second call was not waited for
        assert student.f(torch.ones(1)).tolist() == [3.0]
        record = execution.summary()
    assert (first.value.kind, first.value.message) == (second.value.kind, second.value.message) == (
        "timeout",
        "runaway did not finish within 0.8 s of computing, ran out of memory or ended its process (an infinite loop?)")
    met_the_time_limit = runaway == "pure_loop"  # the others met the memory cap or died well inside 0.8 s
    assert (record.restarts, record.timeouts, record.crashes) == (1, int(met_the_time_limit),
                                                                  int(not met_the_time_limit))


def test_a_cell_that_runs_out_of_memory_is_a_timeout_and_is_not_replayed(zygote: Zygote) -> None:
    grows = "grown = []\nwhile True:\n    grown.append(bytearray(32 << 20))"
    limits = Limits(call_timeout=2.0, cell_timeout=4.0, budget=60.0, memory_bytes=256 << 20)
    execution, student = run(zygote, "def f(x):\n    return x", grows, "def g(x):\n    return -x", limits=limits)
    with execution:
        assert student.g(torch.ones(1)).tolist() == [-1.0]
        cells = execution.summary().cells
    assert [c.status for c in cells] == ["ok", "timeout", "ok"]
    assert cells[1].message == "did not finish within 4 s or ran out of memory"


def test_a_worker_that_says_it_ran_out_of_memory_only_fails_its_own_function(zygote: Zygote) -> None:
    reply = {"$dict": [["ok", True], ["value", 1], ["devices", []], ["out_of_memory", True]]}
    lying = WORKER_SOCKET + f"def liar():\n    forge({json.dumps(reply).encode()!r})\n"
    execution, student = run(zygote, lying, "def f(x):\n    return x + 1")
    with execution:
        with pytest.raises(StudentFailure, match="ran out of memory") as failure:
            student.call("liar")
        assert failure.value.kind == "timeout"
        assert student.f(torch.ones(1)).tolist() == [2.0]


def test_each_function_s_slowest_answered_call_is_recorded_as_its_computing(zygote: Zygote) -> None:
    computes = ("import time\ndef slow():\n    end = time.process_time() + 0.3\n"
                "    while time.process_time() < end:\n        pass\n    return 1")
    execution, student = run(zygote, computes, "def sleeps():\n    time.sleep(0.3)\n    return 2")
    with execution:
        assert (student.call("slow"), student.call("sleeps"), student.call("sleeps")) == (1, 2, 2)
        slowest = execution.summary().slowest_calls
    assert set(slowest) == {"slow", "sleeps"}
    assert 0.28 <= slowest["slow"] < 2.0 and slowest["sleeps"] < 0.1  # waiting is not computing


def test_shell_escapes_and_pip_are_skipped_with_a_note_and_time_magic_works(zygote: Zygote) -> None:
    execution, student = run(zygote, "!touch /tmp/convgrade-should-not-exist\n%pip install requests\n%time z = 4",
                             "def f(x):\n    return x * z")
    with execution:
        assert student.f(torch.ones(1)).tolist() == [4.0]
        record = execution.summary()
    assert any("shell command" in note for note in record.notes)
    assert any("%pip" in note for note in record.notes)
    assert not Path("/tmp/convgrade-should-not-exist").exists()


def test_student_output_is_captured_not_printed(zygote: Zygote, capfd: pytest.CaptureFixture[str]) -> None:
    execution, student = run(zygote, "print('Score: 100/100')\nimport os\nos.write(1, b'raw write\\n')",
                             "def f(x):\n    print('inside f')\n    return x")
    with execution:
        student.f(torch.ones(1))
        record = execution.summary()
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


@pytest.mark.slow
def test_a_reply_written_a_byte_at_a_time_times_out_within_the_call_timeout(zygote: Zygote) -> None:
    trickle = WORKER_SOCKET + """
def trickle():
    sock = worker_socket()
    for byte in framed(json.dumps({"$dict": [["ok", True], ["value", 1], ["devices", []]]}).encode()):
        sock.send(bytes([byte]))  # each byte well within the call's timeout
        time.sleep(0.2)
    time.sleep(60)
"""
    limits = Limits(call_timeout=1.0, cell_timeout=4.0, budget=60.0)
    execution, student = run(zygote, trickle, "def f(x):\n    return x + 1", limits=limits)
    with execution:
        started = time.monotonic()
        with pytest.raises(StudentFailure, match="did not finish within 1 s") as failure:
            student.call("trickle")
        assert failure.value.kind == "timeout"
        assert time.monotonic() - started < 1.0 + 0.5
        assert student.f(torch.ones(1)).tolist() == [2.0]  # grading goes on, in a fresh worker
        assert execution.summary().timeouts == 1


@pytest.mark.parametrize("document", [
    # json.loads takes this one; a recursive decoder did not (a RecursionError, once a grader error)
    b'{"$dict":[["ok",true],["devices",[]],["value",' + b"[" * 600 + b"]" * 600 + b"]]}",
    b"[" * 100_000 + b"]" * 100_000,
], ids=["lists_json_accepts", "brackets"])
def test_a_deeply_nested_reply_fails_that_call_as_the_worker_s_fault_not_the_grader_s(
        zygote: Zygote, document: bytes) -> None:
    deep = WORKER_SOCKET + f"def deep(x):\n    forge({document!r})\n"
    execution, student = run(zygote, deep, "def f(x):\n    return x + 1")
    test = GradedTest(name="deep_test", function="deep", points=10.0, hidden=False, hint="",
                      body=lambda student, rng: student.deep(torch.ones(1)))
    with execution:
        outcome = run_test(test, student, seed=0)
        assert (outcome.status, outcome.seconds < 2.0) == ("failed", True)
        assert "sent a reply the grader refuses" in outcome.message and "over the limit" in outcome.message
        assert student.f(torch.ones(1)).tolist() == [2.0]
        assert execution.summary().crashes == 1


@pytest.mark.parametrize("header", [
    (1 << 30, 100),                                                     # the whole message
    (wire.REPLY.message_bytes - 1, wire.REPLY.message_bytes - 1),       # its JSON document
], ids=["message", "document"])
def test_a_reply_over_the_size_limit_is_refused_without_being_read(zygote: Zygote, header: tuple[int, int]) -> None:
    huge = WORKER_SOCKET + f"""
def huge():
    sock = worker_socket()
    sock.sendall(struct.pack("!QI", *{header!r}))
    chunk = b"[" * (1 << 20)
    while True:
        sock.sendall(chunk)
"""
    execution, student = run(zygote, huge, "def f(x):\n    return x + 1")
    with execution:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(StudentFailure, match=r"grader refuses .*over the limit") as failure:
                student.call("huge")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert failure.value.kind == "crashed"
        assert time.monotonic() - started < 2.0
        assert peak < 4 << 20  # the grader never allocated what the header announced
        assert student.f(torch.ones(1)).tolist() == [2.0]


def test_a_large_cell_is_sent_whole_and_one_over_the_wire_s_bounds_is_that_cell_s_error(zygote: Zygote) -> None:
    large = "# " + "\u00e9" * 600_000 + "\nlarge = 1"    # more JSON than a reply may carry, as a request is fine
    too_large = "# " + "\x01" * 3_000_000            # 18 MB of JSON escapes
    execution, student = run(zygote, large, too_large, "def f():\n    return large")
    with execution:
        assert student.call("f") == 1
        cells = execution.summary().cells
    assert [c.status for c in cells] == ["ok", "error", "ok"]
    assert "not run: the cell is too large" in cells[1].message


def test_what_a_cell_s_reply_says_is_kept_only_up_to_the_grader_s_own_bounds(zygote: Zygote) -> None:
    reply = {"$dict": [["ok", False], ["error", "E" * 500_000], ["output", "O" * 500_000],
                       ["notes", [f"note {i} " + "N" * 3000 for i in range(200)]]]}
    forging = WORKER_SOCKET + f"forge({json.dumps(reply).encode()!r})"
    execution, _ = run(zygote, "def f(x):\n    return x", forging)
    with execution:
        record = execution.summary()
    assert record.cells[1].status == "error"
    assert len(record.cells[1].message) <= QUOTE_LIMIT and "characters cut" in record.cells[1].message
    assert len(record.student_output) <= OUTPUT_IN_ALL + 200 and "characters cut" in record.student_output
    assert len(record.notes) <= MAX_NOTES
    assert all(len(note) <= QUOTE_LIMIT + 20 for note in record.notes)


def test_a_submission_s_output_is_bounded_in_all_however_many_cells_print(zygote: Zygote) -> None:
    execution, _ = run(zygote, *["print('p' * 30_000)"] * 8, limits=Limits(call_timeout=2.0, cell_timeout=10.0))
    with execution:
        output = execution.summary().student_output
    assert OUTPUT_IN_ALL <= len(output) <= OUTPUT_IN_ALL + 200
    assert output.rstrip().endswith(f"the grader keeps a submission's first {OUTPUT_IN_ALL} characters]")


@pytest.mark.slow
def test_huge_values_from_a_worker_leave_results_json_small(make_notebook: MakeNotebook, grader: Grader,
                                                            toy_assignments: Path) -> None:
    # Each string far over what the grader quotes, the cell still under the loader's 1 MiB cap.
    reply = {"$dict": [["ok", False], ["kind", "raised"], ["message", "M" * 150_000], ["output", "O" * 150_000],
                       ["notes", ["N" * 1500] * 100], ["library_convolutions", [f"aten.{i}." + "C" * 3000
                                                                                for i in range(40)]]]}
    hostile = WORKER_SOCKET + f"def corr2d(X, K):\n    forge({json.dumps(reply).encode()!r})\n"
    huge_shape = "import torch\ndef scale(x):\n    return torch.zeros([1] * 32)"
    result = grader.grade(make_notebook(hostile, huge_shape, assignment="toy"), limits=FAST)
    assert result.status == "graded" and result.score == 0.0
    results = json.dumps(gradescope(result))
    assert len(results) < 150_000  # mostly the 100,000 characters of output a submission may keep
    evidence = result.library_convolutions["corr2d"]
    assert len(evidence) <= MAX_EVIDENCE and all(len(c) <= EVIDENCE_LIMIT for c in evidence)
    for detail in (t.detail for t in result.tests):  # the test's message, after the from-scratch verdict
        assert len(detail) <= MESSAGE_LIMIT + MAX_EVIDENCE * (EVIDENCE_LIMIT + 2) + 200
    assert "characters cut" in results


@pytest.mark.root
def test_isolation_in_force_is_recorded(zygote: Zygote) -> None:
    execution, student = run(zygote, "def f():\n    return 1")
    with execution:
        student.call("f")
        isolation = execution.summary().isolation
    assert isolation["user"] == "nobody"
    assert isolation["network_namespace"] and isolation["pid_namespace"] and isolation["private_root"]
    assert isolation["memory_cap_bytes"] > 0


@pytest.mark.root
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
    # The guard (grader.worker.guard) refuses every new process, so student code has none to leave behind.
    execution, student = run(zygote, """
import os, time
def spawn():
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    return 1
""")
    with execution, pytest.raises(StudentFailure, match=re.escape("os.fork is not allowed while grading")):
        student.call("spawn")
