"""The portable path: where there is no fork server (macOS, Windows), workers are plain subprocesses.

Run here with the Linux-only pieces switched off: in this process by removing
`os.fork` (grader.host.platform_support then picks the plain path), and end to end
through tests/portable.py, where the grader and every worker it starts run
without `pwd`, `resource`, fork, SCM_RIGHTS, pyseccomp or the grader's
confinement modules at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import torch

from grader.authoring.testkit import StudentFailure
from grader.cli import main
from grader.grading.student import StudentProxy
from grader.host.execute import Execution, Limits, Zygote
from grader.host.paths import PROJECT_ROOT
from grader.host.plain_workers import PlainLaunch
from tests.portable import run_portable

FAST = Limits(call_timeout=5.0, cell_timeout=5.0, budget=120.0)
COURSE = PROJECT_ROOT / "assignments"
ACCEPTED = COURSE / "cross_correlation" / "accepted" / "vectorized.ipynb"
PROBE_CELL = "import os\nprint('FORK', 'fork' in dir(os))"  # a name, not os.fork: the static check allows it


@pytest.fixture(scope="module")
def plain(toy_assignments: Path) -> Iterator[Zygote]:
    with Zygote(PlainLaunch(reason="a test's reason", allow_unconfined=False)) as workers:
        yield workers


@pytest.fixture
def no_fork(monkeypatch: pytest.MonkeyPatch, toy_assignments: Path) -> None:
    """This process, as on a platform without fork: grading takes the plain path."""
    monkeypatch.delattr(os, "fork")


@pytest.mark.slow
def test_a_plain_worker_runs_cells_and_recovers_from_a_hang_and_a_crash(plain: Zygote) -> None:
    cells = ("def f(x):\n    return x + 1", "while True:\n    pass", "def crash():\n    import os\n    os._exit(1)")
    with Execution(plain, cells, seed=1, limits=FAST) as execution:
        execution.run_notebook()
        student = StudentProxy(execution.call, from_scratch=frozenset())
        assert student.f(torch.ones(2)).tolist() == [2.0, 2.0]  # the hung cell's worker was killed, cells replayed
        with pytest.raises(StudentFailure) as crashed:
            student.call("crash")
        assert crashed.value.kind == "timeout"  # a call that ends its worker exhausts its function, as a hang does
        assert student.f(torch.ones(1)).tolist() == [2.0]  # and again after the crash
        record = execution.summary()
    assert [cell.status for cell in record.cells] == ["ok", "timeout", "ok"]
    assert record.restarts == 2 and record.crashes == 1 and record.timeouts == 1
    assert record.isolation["confined"] is False and record.isolation["portable"] == "a test's reason"
    assert record.notes[0].startswith("not confined (a test's reason): student code ran in a plain subprocess")
    assert record.evidence.tampering == ()  # every reply's seal came on the evidence channel


@pytest.mark.slow
def test_a_plain_workers_guard_reports_a_library_convolution_on_its_evidence_channel(plain: Zygote) -> None:
    cells = (("import torch.nn.functional as F\ndef cheat(X, K):\n"
              "    return F.conv2d(X[None, None], K[None, None])[0, 0]"),)
    with Execution(plain, cells, seed=1, limits=FAST) as execution:
        execution.run_notebook()
        student = StudentProxy(execution.call, from_scratch=frozenset({"cheat"}))
        student.cheat(torch.ones(3, 3), torch.ones(2, 2))
        evidence = execution.summary().evidence
    assert any("convolution" in seen for seen in evidence.convolutions["cheat"]), evidence


def test_a_killed_plain_worker_leaves_no_process_and_no_folder(plain: Zygote) -> None:
    pid, requests, evidence = plain.spawn({"seed": 1, "memory_bytes": 2 << 30, "threads": 1, "device": "cpu"})
    folder = Path(f"/proc/{pid}/cwd").readlink()  # its own temporary folder
    assert folder.name.startswith("convgrade-worker-") and folder.is_dir()
    plain.kill(pid)
    requests.close()
    evidence.close()
    assert not Path(f"/proc/{pid}").exists() and not folder.exists()


@pytest.mark.slow
def test_without_fork_the_hidden_tests_are_refused_unless_unconfined(
        no_fork: None, toy_assignments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = str(toy_assignments / "toy" / "toy.ipynb")
    assert main([notebook]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("grade: refusing to run hidden tests: student code cannot be confined here "
                           "(this Python has no os.fork)") and "--unconfined" in line

    results = tmp_path / "results.json"
    assert main([notebook, "--unconfined", "--results", str(results)]) == 0
    document = json.loads(results.read_text())
    assert document["score"] == 100.0
    isolation = document["extra_data"]["isolation"]
    assert isolation["confined"] is False and isolation["unconfined_allowed"] is True
    assert "graded unconfined (--unconfined)" in capsys.readouterr().out


@pytest.mark.slow
def test_the_portable_path_grades_a_real_assignment_as_the_confined_path_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI test of the path macOS and Windows take, with every Linux-only piece absent."""
    notebook = nbformat.read(ACCEPTED, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE_CELL)  # what student code sees of its platform
    if notebook.nbformat_minor < 5:
        del probe["id"]  # cell ids came with nbformat 4.5
    notebook.cells.append(probe)
    submission = tmp_path / ACCEPTED.name
    nbformat.write(notebook, submission)
    monkeypatch.setenv("CONVGRADE_COURSE", str(PROJECT_ROOT))
    monkeypatch.setenv("CONVGRADE_SECRET", "tests-secret")

    confined = tmp_path / "confined.json"
    assert main([str(submission), "--public", "--results", str(confined)]) == 0
    portable = tmp_path / "portable.json"
    finished = run_portable(tmp_path / "platform",
                            "import sys\nfrom grader.cli import main\nsys.exit(main(sys.argv[1:]))", dict(os.environ),
                            arguments=[str(submission), "--public", "--results", str(portable)])
    assert finished.returncode == 0, finished.stdout + finished.stderr

    def scores(path: Path) -> list[tuple[str, float, float, str]]:
        return [(t["name"], t["score"], t["max_score"], t["status"]) for t in json.loads(path.read_text())["tests"]]

    assert scores(portable) == scores(confined) and sum(score for _, score, _, _ in scores(portable)) == 24.0
    extra = json.loads(portable.read_text())["extra_data"]
    assert extra["isolation"]["confined"] is False and "os.fork" in extra["isolation"]["portable"]
    assert "FORK False" in extra["student_output"]  # the worker itself ran without fork: the simulated platform
    assert "FORK True" in json.loads(confined.read_text())["extra_data"]["student_output"]
    assert "note: not confined (this Python has no os.fork" in finished.stdout  # the table says so
