"""grade() end to end on the toy assignment, including students who try to cheat.

Every trick is appended to the same wrong submission (corr2d returns zeros of
the right shape: 20 of corr2d's 80 points, plus scale's 20). A trick gains
nothing when the submission with it scores no more than the one without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import nbformat
import pytest

from grader.course.release import release_notebook
from grader.errors import UsageError
from grader.records import GradeResult
from grader.session import Grader
from tests.helpers import FAST, SCALE, SOLVED_CORR2D, ZEROS_CORR2D, MakeNotebook

WRONG_SCORE = 40.0


def grade_cells(make_notebook: MakeNotebook, grader: Grader, *cells: str) -> GradeResult:
    return grader.grade(make_notebook(*cells, assignment="toy"), limits=FAST)


def by_name(result: GradeResult) -> dict[str, float]:
    return {t.name: t.score for t in result.tests}


@pytest.mark.slow
def test_the_solved_notebook_scores_full_marks(grader: Grader, toy_assignments: Path) -> None:
    result = grader.grade(toy_assignments / "toy" / "toy.ipynb", limits=FAST)
    assert (result.status, result.score, result.max_score, result.grader_errors) == ("graded", 100.0, 100.0, ())


def test_the_student_release_scores_zero_without_grader_errors(grader: Grader, toy_assignments: Path,
                                                               tmp_path: Path) -> None:
    released = release_notebook("toy", tmp_path)
    result = grader.grade(released, limits=FAST)
    assert (result.score, result.max_score, result.grader_errors) == (0.0, 100.0, ())
    assert all("NotImplementedError" in t.detail for t in result.tests)


def test_a_wrong_function_loses_only_its_own_points(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_cells(make_notebook, grader, ZEROS_CORR2D, SCALE)
    assert by_name(result) == {"corr2d_seed_example": 0, "corr2d_matches_reference": 0,
                               "corr2d_shape_law": 20, "scale_doubles": 20}


def test_a_missing_name_loses_its_own_points(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_cells(make_notebook, grader, SOLVED_CORR2D)
    assert result.score == 80.0
    assert "does not define scale" in next(t.detail for t in result.tests if t.function == "scale")


def test_hidden_tests_show_students_only_their_hint(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_cells(make_notebook, grader, ZEROS_CORR2D, SCALE)
    hidden = next(t for t in result.tests if t.name == "corr2d_matches_reference")
    assert hidden.feedback == "compare each window with the kernel, element by element"
    assert "toy-hidden-marker" in hidden.detail  # kept for instructors


def test_the_same_submission_always_gets_the_same_result(make_notebook: MakeNotebook, grader: Grader) -> None:
    flaky = ("import torch\ndef corr2d(X, K):\n"
             "    return torch.rand(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)")
    path = make_notebook(flaky, SCALE, assignment="toy")
    first, second = (grader.grade(path, limits=FAST) for _ in range(2))
    assert [(t.name, t.score, t.detail) for t in first.tests] == [(t.name, t.score, t.detail) for t in second.tests]


@pytest.mark.slow
def test_an_infinite_loop_costs_only_that_function(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_cells(make_notebook, grader, "def corr2d(X, K):\n    while True:\n        pass", SCALE)
    assert by_name(result)["scale_doubles"] == 20 and result.score == 20.0
    assert "did not finish" in next(t.detail for t in result.tests if t.name == "corr2d_seed_example")


def test_a_library_convolution_in_a_from_scratch_function_scores_zero_for_it(make_notebook: MakeNotebook,
                                                                               grader: Grader) -> None:
    cheat = ("import torch.nn.functional as F\ndef corr2d(X, K):\n"
             "    return F.conv2d(X[None, None], K[None, None])[0, 0]")
    result = grade_cells(make_notebook, grader, cheat, SCALE)
    assert result.score == 20.0
    assert "aten.convolution" in result.library_convolutions["corr2d"][0]
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d")


@pytest.mark.parametrize(("path_kind", "reason"), [
    ("missing", "no such file"), ("directory", "directory"), ("garbage", "binary"),
    ("truncated", "truncated"), ("not_notebook", "not a Jupyter notebook"), ("empty", "no cells"),
])
def test_unusable_files_get_a_reason_and_no_score(grader: Grader, toy_assignments: Path, tmp_path: Path,
                                                  path_kind: str, reason: str) -> None:
    solved = (toy_assignments / "toy" / "toy.ipynb").read_text()
    path = tmp_path / "submission.ipynb"
    if path_kind == "directory":
        path.mkdir()
    elif path_kind == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    elif path_kind == "truncated":
        path.write_text(solved[: len(solved) // 2])
    elif path_kind == "not_notebook":
        path.write_text('{"hello": "world"}')
    elif path_kind == "empty":
        nbformat.write(nbformat.v4.new_notebook(), path)
    result = grader.grade(path, assignment="toy", limits=FAST)
    assert result.status == "unusable" and reason in result.reason
    assert (result.score, result.max_score) == (0.0, 100.0)


def test_a_notebook_for_another_assignment_is_unusable(make_notebook: MakeNotebook, grader: Grader) -> None:
    path = make_notebook(SOLVED_CORR2D, assignment="channels")
    result = grader.grade(path, assignment="toy", limits=FAST)
    assert result.status == "unusable" and "'channels', not 'toy'" in result.reason


def test_a_notebook_without_metadata_is_matched_by_its_names(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grader.grade(make_notebook(SOLVED_CORR2D, SCALE), limits=FAST)
    assert (result.assignment, result.score) == ("toy", 100.0)


# --- Tricks: each appended to the wrong submission must not score above it. ---

def _protected_files(toy_assignments: Path) -> dict[Path, str]:
    import grader.authoring.testkit

    files = [Path(grader.authoring.testkit.__file__), toy_assignments / "toy" / "hidden_tests.py"]
    return {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


TRICKS = {
    "monkeypatched_compare_helpers": """
import torch, torch.testing
torch.testing.assert_close = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
""",
    "rigged_eq_object": """
class AlwaysEqual:
    shape = (2, 2)
    def __eq__(self, other):
        return True
def corr2d(X, K):
    return AlwaysEqual()
""",
    "lying_tensor_subclass": """
import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.ones(2, 2)
_plain = corr2d
def corr2d(X, K):
    return _plain(X, K).as_subclass(Liar)
""",
    "os_exit_at_the_end": "import os\nos._exit(0)",
    "sys_exit_at_the_end": "import sys\nsys.exit(0)",
    "printed_score_and_forged_results": """
import json, os
print('Score: 100 / 100')
for path in ['results.json', '/autograder/results/results.json']:
    try:
        open(path, 'w').write(json.dumps({'score': 100, 'max_score': 100}))
    except OSError:
        pass
""",
    "atexit_and_signal_handlers": """
import atexit, signal
atexit.register(lambda: print('Score: 100 / 100'))
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
""",
    "tampering_with_grader_files": """
import glob
for path in glob.glob('/**/grader/testkit.py', recursive=False) + glob.glob('/**/toy/hidden_tests.py'):
    try:
        open(path, 'w').write('')
    except OSError:
        pass
""",
    "background_process": """
import os, time
if os.fork() == 0:
    os.setsid()
    while True:
        time.sleep(0.1)
""",
    "pickle_payload": """
import os
class Payload:
    def __reduce__(self):
        return (os.system, ('touch /tmp/convgrade-pwned',))
def corr2d(X, K):
    return Payload()
""",
    "forged_worker_replies": """
import grader.worker.requests, torch.nn.functional as F
_real = grader.worker.requests.perform
def _forged(namespace, request):
    reply = _real(namespace, request)
    reply.pop('library_convolutions', None)
    return reply
grader.worker.requests.perform = _forged
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_gains_nothing(make_notebook: MakeNotebook, grader: Grader, toy_assignments: Path,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trick: str) -> None:
    monkeypatch.chdir(tmp_path)
    before = _protected_files(toy_assignments)
    baseline = grade_cells(make_notebook, grader, ZEROS_CORR2D, SCALE)
    tricked = grade_cells(make_notebook, grader, ZEROS_CORR2D, SCALE, TRICKS[trick])
    assert baseline.score == WRONG_SCORE
    assert tricked.score <= baseline.score
    assert tricked.grader_errors == ()
    assert _protected_files(toy_assignments) == before
    assert not (tmp_path / "results.json").exists()
    assert not Path("/tmp/convgrade-pwned").exists()


def test_a_trick_on_a_correct_submission_keeps_it_honest(make_notebook: MakeNotebook, grader: Grader) -> None:
    """Harmless tricks leave a right answer right: grading reads results, not the worker's word."""
    result = grade_cells(make_notebook, grader, SOLVED_CORR2D, SCALE, TRICKS["printed_score_and_forged_results"],
                         TRICKS["os_exit_at_the_end"])
    assert result.score == 100.0


@pytest.mark.cuda
def test_on_cuda_a_correct_submission_scores_full_marks(make_notebook: MakeNotebook, grader: Grader) -> None:
    on_device = SOLVED_CORR2D.replace("torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)",
                                      "torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1, device=X.device)")
    result = grader.grade(make_notebook(on_device, SCALE, assignment="toy"), limits=FAST, device="cuda")
    assert result.score == 100.0


@pytest.mark.cuda
def test_on_cuda_a_result_left_on_the_cpu_fails(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grader.grade(make_notebook(SOLVED_CORR2D, "def scale(x):\n    return (2 * x).cpu()", assignment="toy"),
                          limits=FAST, device="cuda")
    assert by_name(result)["scale_doubles"] == 0
    assert "on cpu" in next(t.detail for t in result.tests if t.name == "scale_doubles")


def test_asking_for_cuda_without_a_gpu_is_a_usage_error(make_notebook: MakeNotebook, grader: Grader) -> None:
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(UsageError, match="no CUDA device"):
        grader.grade(make_notebook(SCALE, assignment="toy"), device="cuda")


def test_notes_from_a_test_call_never_carry_what_the_student_code_wrote(
        make_notebook: MakeNotebook, grader: Grader, toy_assignments: Path) -> None:
    leaky = ZEROS_CORR2D + ("\n_zeros = corr2d\ndef corr2d(X, K):\n    get_ipython().system(f'echo {X.tolist()}')\n"
                            "    return _zeros(X, K)\n")
    result = grade_cells(make_notebook, grader, leaky, SCALE, "get_ipython().system('echo from a cell')")
    call_notes = [note for note in result.notes if note.startswith("call to corr2d")]
    assert call_notes and not any("echo" in note or "[" in note for note in call_notes)
    assert any("echo from a cell" in note for note in result.notes)  # the notebook's own cells keep their text


def test_a_test_that_fails_on_its_own_code_leaves_the_submission_without_a_score(
        grader: Grader, broken_toy: Path) -> None:
    result = grader.grade(broken_toy / "toy" / "toy.ipynb", limits=FAST)
    assert (result.status, result.score) == ("error", 0.0)
    assert "scale_doubles" in result.reason and "not graded" in result.reason
    broken = {t.name: t for t in result.tests if t.grader_error}
    assert set(broken) == {"scale_doubles"} and "NameError" in broken["scale_doubles"].detail
    assert "not your code" in broken["scale_doubles"].feedback
    assert sum(t.score for t in result.tests if not t.grader_error) == 80.0  # kept for the instructors' eyes only


# --- a broken cell is named, as the student sees it, in every test it cost ---------------------------------------

def notebook_of(tmp_path: Path, *cells: nbformat.NotebookNode) -> Path:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["convgrade"] = {"assignment": "toy"}
    path = tmp_path / "broken_cells.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_syntax_error_is_named_by_its_cell_in_every_test_it_cost(grader: Grader, tmp_path: Path) -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    broken = "import torch\n\ndef corr2d(X, K):\n    return X[:2, :2] +\n"  # line 4
    path = notebook_of(tmp_path, md("# Cross-correlation"), code("import torch"), md("## Your answer"),
                       md("Write corr2d below."), code(broken), md("## Scaling"), code(SCALE))
    result = grader.grade(path, limits=FAST)
    expected = "cell 5 has a SyntaxError (line 4): invalid syntax, so corr2d is not defined"
    corr2d_tests = [t for t in result.tests if t.function == "corr2d"]
    assert corr2d_tests and all(t.detail == expected for t in corr2d_tests)
    assert [t.feedback for t in corr2d_tests if not t.hidden] == [expected]
    assert by_name(result)["scale_doubles"] == 20
    assert expected in result.notes


@pytest.mark.slow
def test_an_exception_in_the_defining_cell_is_named_with_the_names_it_left_undefined(grader: Grader,
                                                                                    tmp_path: Path) -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    raises = "import torch\nweights = undefined_helper()\n" + SOLVED_CORR2D + "\n" + SCALE
    path = notebook_of(tmp_path, md("# Answers"), code(raises))
    result = grader.grade(path, limits=FAST)
    cause = "cell 2 raised NameError: name 'undefined_helper' is not defined"
    assert {t.detail for t in result.tests} == {f"{cause}, so corr2d is not defined",
                                                f"{cause}, so scale is not defined"}
    assert f"{cause}, so corr2d and scale are not defined" in result.notes
    assert result.score == 0.0


@pytest.mark.slow
def test_a_failed_cell_that_defines_nothing_graded_is_noted_without_blame(grader: Grader, tmp_path: Path) -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    path = notebook_of(tmp_path, md("# Answers"), code(SOLVED_CORR2D), md("A plot:"), code("print(1 / 0)"),
                       code(SCALE))
    result = grader.grade(path, limits=FAST)
    assert result.score == 100.0
    assert "cell 4 raised ZeroDivisionError: division by zero" in result.notes


def test_a_name_that_no_cell_defines_still_says_so(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_cells(make_notebook, grader, SOLVED_CORR2D, "x = 1 +* 2")
    scale = next(t for t in result.tests if t.function == "scale")
    assert scale.detail == "the notebook does not define scale"
    assert "cell 2 has a SyntaxError (line 1): invalid syntax" in result.notes


@pytest.mark.slow
def test_a_loop_that_grows_memory_scores_as_a_pure_loop_whichever_limit_it_meets_first(
        make_notebook: MakeNotebook, grader: Grader) -> None:
    pure = "import torch\ndef corr2d(X, K):\n    while True:\n        pass"
    growing = ("import torch\ndef corr2d(X, K):\n    grown = []\n    while True:\n"
               "        grown.append(torch.ones(8 << 20))")
    limits = dataclasses.replace(FAST, call_timeout=1.5, memory_bytes=256 << 20)
    looped, grew = (grader.grade(make_notebook(body, SCALE, assignment="toy"), limits=limits)
                    for body in (pure, growing))
    assert (looped.timeouts, looped.crashes, grew.timeouts, grew.crashes) == (1, 0, 0, 1)  # each met its own limit
    assert [(t.name, t.score, t.passed, t.detail) for t in looped.tests] == [
        (t.name, t.score, t.passed, t.detail) for t in grew.tests]
    assert looped.score == grew.score == 20.0
    assert looped.isolation["restarts"] == grew.isolation["restarts"]
