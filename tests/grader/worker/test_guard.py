"""The worker's guard: every way around the from-scratch watch leaves evidence the student cannot take back.

Each attack runs in a real worker; the evidence asserted is what reached the
grader on the evidence channel (grader.host.evidence), not what the worker replied.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from grader.authoring.testkit import StudentFailure
from grader.course.assignment import Assignment, load_assignment
from grader.grading.student import StudentProxy
from grader.host.execute import Execution, Limits, Zygote
from grader.records import Evidence, GradeResult
from grader.session import Grader
from tests.helpers import SCALE, SOLVED_CORR2D, MakeNotebook, use_course

FAST = Limits(call_timeout=4.0, cell_timeout=6.0, budget=60.0)
CHEAT = "corr2d"  # the from-scratch function of these workers

PREAMBLE = "import torch\nimport torch.nn.functional as F\nimport numpy as np"
SCRATCH = """
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1, dtype=X.dtype)
    for a in range(h):
        for b in range(w):
            Y = Y + K[a, b] * X[a:a + Y.shape[0], b:b + Y.shape[1]]
    return Y
"""
LIBRARY = "F.conv2d(X[None, None], K[None, None])[0, 0]"


def evidence_of(zygote: Zygote, *cells: str, calls: int = 1) -> tuple[Evidence, list[str]]:
    """Run the cells, call corr2d `calls` times; the evidence that reached the grader, and the failures."""
    failures: list[str] = []
    with Execution(zygote, (PREAMBLE, *cells), seed=1, limits=FAST) as execution:
        execution.run_notebook()
        student = StudentProxy(execution.call, from_scratch=frozenset({CHEAT}))
        for _ in range(calls):
            try:
                student.call(CHEAT, torch.arange(16.0).reshape(4, 4), torch.ones(2, 2))
            except StudentFailure as failure:
                failures.append(str(failure))
        return execution.summary().evidence, failures


@pytest.mark.slow
def test_a_function_written_from_scratch_leaves_no_evidence(zygote: Zygote) -> None:
    evidence, failures = evidence_of(zygote, SCRATCH, calls=2)
    assert evidence == Evidence({}, ()) and failures == []


ATTACKS = {
    "plain": f"def corr2d(X, K):\n    return {LIBRARY}",
    "computed_name": ("def corr2d(X, K):\n    c = getattr(F, 'con' + 'v2d')\n"
                      "    return c(X[None, None], K[None, None])[0, 0]"),
    "thread": f"""
import threading
def corr2d(X, K):
    out = {{}}
    def work():
        out['y'] = {LIBRARY}
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out['y']
""",
    "lambda_on_a_thread": f"""
import threading
def corr2d(X, K):
    out = []
    t = threading.Thread(target=lambda: out.append({LIBRARY}))
    t.start()
    t.join()
    return out[0]
""",
    "raw_thread": f"""
import _thread, time
def corr2d(X, K):
    out = []
    _thread.start_new_thread(lambda: out.append({LIBRARY}), ())
    while not out:
        time.sleep(0.01)
    return out[0]
""",
    "disable_torch_dispatch": f"""
def corr2d(X, K):
    with torch._C._DisableTorchDispatch():
        return {LIBRARY}
""",
    "disable_through_an_alias": f"""
from torch._C import _DisableTorchDispatch as quiet
def corr2d(X, K):
    with quiet():
        return {LIBRARY}
""",
    "disable_current_modes": f"""
from torch.utils._python_dispatch import _disable_current_modes
def corr2d(X, K):
    with _disable_current_modes():
        return {LIBRARY}
""",
    "exclude_python_key": f"""
def corr2d(X, K):
    with torch._C._ExcludeDispatchKeyGuard(torch._C.DispatchKeySet(torch._C.DispatchKey.Python)):
        return {LIBRARY}
""",
    "clear_the_evidence": f"""
def corr2d(X, K):
    Y = {LIBRARY}
    torch.utils._python_dispatch._get_current_dispatch_mode().convolutions.clear()
    return Y
""",
    "torch_jit_fork": """
def corr2d(X, K):
    future = torch.jit._fork(F.conv2d, X[None, None], K[None, None])
    return torch.jit.wait(future)[0, 0]
""",
    "numpy_c_level_correlate": """
import numpy.core._multiarray_umath as raw
def corr2d(X, K):
    x, k = X.numpy(), K.numpy()
    rows = [sum(raw.correlate2(x[i + a], k[a], 0) for a in range(k.shape[0]))
            for i in range(x.shape[0] - k.shape[0] + 1)]
    return torch.tensor(np.array(rows))
""",
    "numpy_core_numeric": """
import numpy.core.numeric as numeric
def corr2d(X, K):
    x, k = X.numpy(), K.numpy()
    rows = [sum(numeric.correlate(x[i + a], k[a]) for a in range(k.shape[0]))
            for i in range(x.shape[0] - k.shape[0] + 1)]
    return torch.tensor(np.array(rows))
""",
    "gc_reaches_the_watch": f"""
import gc
def corr2d(X, K):
    gc.get_objects()
    return {LIBRARY}
""",
    "custom_operator": """
@torch.library.custom_op("notebook::c", mutates_args=())
def hidden(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    return F.conv2d(X[None, None], K[None, None])[0, 0]
def corr2d(X, K):
    return torch.ops.notebook.c(X, K)
""",
    "tensor_subclass_dispatch": """
class Lazy(torch.Tensor):
    @staticmethod
    def __new__(cls, X, K):
        made = torch.Tensor._make_wrapper_subclass(cls, (X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1),
                                                   dtype=X.dtype)
        made.X, made.K = X, K
        return made
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return F.conv2d(args[0].X[None, None], args[0].K[None, None])[0, 0]
def corr2d(X, K):
    return torch.ops.aten.clone(Lazy(X, K))
""",
    "frames_through_the_standard_library": f"""
import logging, string, traceback
def corr2d(X, K):
    for frame, _ in traceback.walk_stack(logging.currentframe()):
        local = string.Formatter().get_field("0.f_locals", (frame,), {{}})[0]
        if "watch" in local:
            local["watch"].convolutions.update(["aten.convolution.default", "aten.conv2d.default"])
    return {LIBRARY}
""",
    "traceback_frame_through_a_formatter": f"""
import string
def corr2d(X, K):
    try:
        raise ValueError
    except ValueError as error:
        string.Formatter().get_field("0.__traceback__.tb_frame", (error,), {{}})
    return {LIBRARY}
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_way_around_the_watch_is_evidence_against_the_function(zygote: Zygote, attack: str) -> None:
    evidence, _ = evidence_of(zygote, ATTACKS[attack])
    assert evidence.convolutions.get(CHEAT), evidence


CELL_ATTACKS = {
    "thread_server_started_in_a_cell": f"""
import threading, queue
jobs, answers = queue.Queue(), queue.Queue()
def serve():
    while True:
        X, K = jobs.get()
        answers.put({LIBRARY})
threading.Thread(target=serve, daemon=True).start()
def corr2d(X, K):
    jobs.put((X, K))
    return answers.get()
""",
    "input_transformer": """
def rewrite(lines):
    return [line.replace('SCRATCH_MARKER', 'F.conv2d(X[None, None], K[None, None])[0, 0]') for line in lines]
get_ipython().input_transformers_cleanup.append(rewrite)
""",
    "forked_helper_process": "import os\nif os.fork() == 0:\n    os._exit(0)",
    "subprocess": "import subprocess\nsubprocess.run(['true'])",
    "sys_settrace_off": "import sys\nsys.settrace(None)",
    "frame_introspection": "import sys\nframe = sys._getframe()",
    "import_the_grader": "import grader.worker.requests",
    "code_from_a_written_file": "open('/tmp/convgrade_helper.py', 'w').write('x = 1')\nimport sys\n"
                                "sys.path.insert(0, '/tmp')\nimport convgrade_helper",
    "ctypes": "import ctypes\nctypes.string_at(id(1), 8)",
    "exec": "exec('y = 1')",
    "an_audit_hook_of_its_own": "import sys\nsys.addaudithook(lambda event, args: None)",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(CELL_ATTACKS))
def test_tampering_while_the_cells_run_is_evidence_against_the_notebook(zygote: Zygote, attack: str) -> None:
    evidence, _ = evidence_of(zygote, CELL_ATTACKS[attack], SCRATCH.replace("Y = Y +", "Y = Y + 0 * 0 +"))
    assert evidence.tampering, evidence


def test_an_input_transformer_cannot_swap_in_a_library_call_unseen(zygote: Zygote) -> None:
    cells = (CELL_ATTACKS["input_transformer"], "def corr2d(X, K):\n    return SCRATCH_MARKER")
    evidence, failures = evidence_of(zygote, *cells)
    assert failures == []  # the rewrite worked: the code that ran is not the code the static check reads
    assert evidence.tampering and evidence.convolutions[CHEAT] == ("aten.convolution.default",)


@pytest.mark.slow
def test_the_live_grader_modules_are_out_of_reach_through_sys_modules(zygote: Zygote) -> None:
    cells = ("import os\nrecipes = os.sys.modules['grader.worker.requests']",)
    with Execution(zygote, cells, seed=1, limits=FAST) as execution:
        execution.run_notebook()
        record = execution.summary()
    assert record.cells[0].status == "error" and "KeyError" in record.cells[0].message


def test_a_thread_is_refused_with_a_reason(zygote: Zygote) -> None:
    _, failures = evidence_of(zygote, ATTACKS["thread"])
    assert failures and "a new thread is not allowed while grading" in failures[0]


def test_an_evidence_channel_replaced_under_the_guard_is_tampering(zygote: Zygote) -> None:
    replacing = f"""
import os, stat
def corr2d(X, K):
    null = os.open('/dev/null', os.O_WRONLY)
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode) and not os.get_blocking(fd):
                os.dup2(null, fd)  # the evidence channel, the one socket the worker never blocks on
        except OSError:
            pass
    return {LIBRARY}
"""
    evidence, _ = evidence_of(zygote, replacing)
    assert any("evidence channel was closed or replaced" in t for t in evidence.tampering), evidence


def test_numpy_and_torch_still_work_for_honest_code(zygote: Zygote) -> None:
    honest = """
import numpy as np
def corr2d(X, K):
    print(X)  # torch's printing switches the watch off for itself: not the student's doing
    x = np.asarray(X)
    return torch.tensor(x[:3, :3] * 0 + np.float32(1)) * 0 + """ + "torch.zeros(3, 3)"
    evidence, failures = evidence_of(zygote, honest)
    assert evidence == Evidence({}, ()) and failures == []


# --- End to end: the escapes, in corr2d_pad_stride of the padding_stride assignment. ---

PREPARE = '''
def _prepared(X, K, padding, stride):
    s = (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))
    if min(s) < 1:
        raise ValueError(f'stride must be at least 1, got {stride}')
    k_h, k_w = K.shape
    if padding == 'valid':
        pads = (0, 0, 0, 0)
    elif padding == 'same':
        if s != (1, 1):
            raise ValueError("padding='same' needs stride 1")
        pads = ((k_w - 1) // 2, k_w // 2, (k_h - 1) // 2, k_h // 2)
    else:
        p = (padding, padding) if isinstance(padding, int) else (int(padding[0]), int(padding[1]))
        pads = (p[1], p[1], p[0], p[0])
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    return F.pad(X.to(dtype), pads)[None, None], K.to(dtype)[None, None], s
'''
CONV = "getattr(F, 'conv' + '2d')"  # hidden from a name search: the runtime watch must see it
ESCAPES = {
    "thread": f"""
import threading
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    out = {{}}
    def work():
        out['y'] = {CONV}(Xp, Kp, stride=s)[0, 0]
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out['y']
""",
    "lambda_on_a_thread": f"""
import threading
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    out = []
    t = threading.Thread(target=lambda: out.append({CONV}(Xp, Kp, stride=s)[0, 0]))
    t.start()
    t.join()
    return out[0]
""",
    "disable_torch_dispatch": f"""
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    with torch._C._DisableTorchDispatch():
        return {CONV}(Xp, Kp, stride=s)[0, 0]
""",
    "clear_the_evidence": f"""
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    Y = {CONV}(Xp, Kp, stride=s)[0, 0]
    torch.utils._python_dispatch._get_current_dispatch_mode().convolutions.clear()
    return Y
""",
    "os_sys_modules": f"""
import os
_recipes = os.sys.modules.get('grader.worker.requests')
if _recipes is not None:
    _real = _recipes.perform
    def _forged(namespace, request):
        reply = _real(namespace, request)
        reply.pop('library_convolutions', None)
        return reply
    _recipes.perform = _forged
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    return {CONV}(Xp, Kp, stride=s)[0, 0]
""",
    "input_transformer": """
def _rewrite(lines):
    return [line.replace('FROM_SCRATCH(', "getattr(F, 'conv' + '2d')(") for line in lines]
get_ipython().input_transformers_cleanup.append(_rewrite)
""" + "\n# next cell\n",
    "numpy_c_level_correlate": """
import numpy as np
import numpy.core._multiarray_umath as _raw
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    x, k = Xp[0, 0].double().numpy(), Kp[0, 0].double().numpy()
    rows = [sum(_raw.correlate2(x[i + a], k[a], 0) for a in range(k.shape[0]))
            for i in range(x.shape[0] - k.shape[0] + 1)]
    return torch.tensor(np.array(rows))[::s[0], ::s[1]].to(Xp.dtype)
""",
    "torch_jit_fork": f"""
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    return torch.jit.wait(torch.jit._fork({CONV}, Xp, Kp, stride=s))[0, 0]
""",
}
TRANSFORMED = """
def corr2d_pad_stride(X, K, padding=0, stride=1):
    Xp, Kp, s = _prepared(X, K, padding, stride)
    return FROM_SCRATCH(Xp, Kp, stride=s)[0, 0]
"""
ACCEPTED = Path(__file__).parents[3] / "assignments" / "padding_stride" / "accepted" / "vectorized.ipynb"


@pytest.fixture
def padding_stride(monkeypatch: pytest.MonkeyPatch, zygote: Zygote) -> Assignment:
    """The course's padding_stride assignment (the shared zygote already hides the course's folders)."""
    use_course(monkeypatch, ACCEPTED.parents[2])
    return load_assignment("padding_stride")


def grade_with(make_notebook: MakeNotebook, grader: Grader, definition: Assignment, *extra: str) -> GradeResult:
    cells = [cell.source for cell in nbformat.read(ACCEPTED, as_version=4).cells if cell.cell_type == "code"]
    path = make_notebook(*cells, *extra, assignment="padding_stride")
    return grader.grade(path, limits=FAST, definitions={"padding_stride": definition})


@pytest.mark.slow
def test_corr2d_pad_stride_from_scratch_keeps_full_marks(make_notebook: MakeNotebook, grader: Grader,
                                                         padding_stride: Assignment) -> None:
    result = grade_with(make_notebook, grader, padding_stride)
    assert (result.score, result.max_score, dict(result.library_convolutions)) == (100.0, 100.0, {})


@pytest.mark.slow
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_each_escape_from_the_watch_loses_corr2d_pad_stride_its_points(
        make_notebook: MakeNotebook, grader: Grader, padding_stride: Assignment, escape: str) -> None:
    extra = (PREPARE, ESCAPES[escape]) + ((TRANSFORMED,) if escape == "input_transformer" else ())
    result = grade_with(make_notebook, grader, padding_stride, *extra)
    own = [t for t in result.tests if t.function == "corr2d_pad_stride"]
    assert own and all(t.score == 0 for t in own)
    assert all("library convolution" in t.feedback or "reaches into the grader" in t.feedback for t in own)
    assert result.score <= 100.0 - sum(t.max_score for t in own)
    assert result.grader_errors == ()


def test_a_process_started_below_subprocess_is_refused_too(zygote: Zygote) -> None:
    low_level = """
import _posixsubprocess, os
def corr2d(X, K):
    _posixsubprocess.fork_exec(['/bin/true'], [b'/bin/true'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                               *os.pipe(), False, False, -1, None, None, None, -1, None, True)
    return X
"""
    evidence, failures = evidence_of(zygote, low_level)
    assert evidence.convolutions[CHEAT] == ("a new process (a way around the watch)",)
    assert "a new process is not allowed while grading" in failures[0]


@pytest.mark.parametrize("timing", ["%time y = 1", "%timeit -n 1 -r 1 y = 1", "%%time\ny = 1"])
def test_a_timing_magic_is_no_tampering(make_notebook: MakeNotebook, grader: Grader, timing: str) -> None:
    """IPython loads such magics on first use, which changes its magics table: that is IPython's doing."""
    result = grader.grade(make_notebook(SOLVED_CORR2D, SCALE, timing, assignment="toy"))
    assert result.status == "graded" and result.score == result.max_score, result.notes
    assert not result.library_convolutions
