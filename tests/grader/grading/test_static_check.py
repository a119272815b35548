"""The source half of the from-scratch rule: which library convolutions a function names."""

from __future__ import annotations

import time

import pytest

from grader.grading.static_check import library_convolutions, parsed_cells, tampering


def found(*cells: str, functions: tuple[str, ...] = ("corr2d",)) -> dict[str, set[str]]:
    return library_convolutions(tuple(cells), functions)


@pytest.mark.parametrize(("cells", "expected"), [
    (("import torch.nn.functional as F", "def corr2d(X, K):\n    return F.conv2d(X, K)"),
     "torch.nn.functional.conv2d"),
    (("import torch\ndef corr2d(X, K):\n    return torch.conv2d(X, K)",), "torch.conv2d"),
    (("import torch\ndef corr2d(X, K):\n    return torch.nn.functional.conv2d(X, K)",), "torch.nn.functional.conv2d"),
    (("import torch.nn.functional\ndef corr2d(X, K):\n    return torch.nn.functional.conv2d(X, K)",),
     "torch.nn.functional.conv2d"),
    (("from torch.nn.functional import conv2d as c\ndef corr2d(X, K):\n    return c(X, K)",),
     "torch.nn.functional.conv2d"),
    (("from torch import nn\ndef corr2d(X, K):\n    layer = nn.Conv2d(1, 1, K.shape)\n    return layer(X)",),
     "torch.nn.Conv2d"),
    (("import torch.nn as nn\ndef corr2d(X, K):\n    return nn.Conv2d(1, 1, 2)(X)",), "torch.nn.Conv2d"),
    (("import numpy as np\ndef corr2d(X, K):\n    return np.convolve(X, K)",), "numpy.convolve"),
    (("import scipy.signal\ndef corr2d(X, K):\n    return scipy.signal.convolve2d(X, K)",), "scipy.signal.convolve2d"),
    (("from scipy import signal\ndef corr2d(X, K):\n    return signal.correlate2d(X, K, mode='valid')",),
     "scipy.signal.correlate2d"),
    (("from scipy.signal import fftconvolve as fc\ndef corr2d(X, K):\n    return fc(X, K)",),
     "scipy.signal.fftconvolve"),
    (("import torch.nn.functional as F\ndef corr2d(X, K):\n    return F.conv_transpose2d(X, K)",),
     "torch.nn.functional.conv_transpose2d"),
    ((("import torch\ndef corr2d(X, K):\n    return torch.convolution(X, K, None, [1, 1], [0, 0], [1, 1], False,"
       " [0, 0], 1)"),), "torch.convolution"),
], ids=["F_alias", "torch_conv2d", "full_path", "import_submodule", "from_import_as", "from_torch_import_nn",
        "nn_alias", "np_convolve", "scipy_signal", "from_scipy_import_signal", "fftconvolve_alias",
        "conv_transpose", "aten_convolution"])
def test_library_convolutions_are_found_whatever_name_reaches_them(cells: tuple[str, ...], expected: str) -> None:
    assert found(*cells) == {"corr2d": {expected}}


def test_a_library_convolution_referenced_without_a_call_is_found() -> None:
    cells = ("import torch.nn.functional as F\ndef corr2d(X, K):\n    op = F.conv2d\n    return op(X, K)",)
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_an_import_inside_the_function_is_followed() -> None:
    cells = ("def corr2d(X, K):\n    import torch.nn.functional as G\n    return G.conv2d(X, K)",)
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_convolutions_reached_through_notebook_helpers_are_found() -> None:
    cells = ("import torch.nn.functional as F",
             "def _inner(X, K):\n    return F.conv2d(X[None, None], K[None, None])[0, 0]",
             "def helper(X, K):\n    return _inner(X, K)",
             "def corr2d(X, K):\n    return helper(X, K)",
             "def unrelated(X):\n    import numpy as np\n    return np.convolve(X, X)")
    assert found(*cells, functions=("corr2d", "helper", "unrelated")) == {
        "corr2d": {"torch.nn.functional.conv2d"}, "helper": {"torch.nn.functional.conv2d"},
        "unrelated": {"numpy.convolve"}}


def test_mutually_recursive_helpers_terminate() -> None:
    cells = ("def a(n):\n    return b(n - 1) if n else 0", "def b(n):\n    return a(n)",
             "def corr2d(X, K):\n    return a(3)")
    assert found(*cells) == {}


def test_helper_classes_the_function_instantiates_are_followed() -> None:
    cells = ("import torch.nn.functional as F",
             "class Engine:\n    def run(self, X, K):\n        return F.conv2d(X, K)",
             "def corr2d(X, K):\n    return Engine().run(X, K)")
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_only_the_requested_functions_are_reported() -> None:
    cells = ("import torch.nn.functional as F",
             "def corr2d(X, K):\n    return X",
             "def check(X, K):\n    return F.conv2d(X, K)")
    assert found(*cells) == {}
    assert found(*cells, functions=("corr2d", "check")) == {"check": {"torch.nn.functional.conv2d"}}


def test_a_function_the_notebook_does_not_define_is_not_reported() -> None:
    assert found("import torch.nn.functional as F\nx = F.conv2d", functions=("corr2d", "missing")) == {}


@pytest.mark.parametrize("body", [
    "    # F.conv2d would be cheating; torch.conv2d too\n    return X",
    "    '''Not F.conv2d(X, K), nor np.convolve.'''\n    return X",
    "    message = 'use torch.nn.functional.conv2d to check'\n    return X",
    "    return convolve2d(X, K)",
    "    conv = X * K.sum()\n    return conv",
    "    return X.unfold(0, K.shape[0], 1).unfold(1, K.shape[1], 1).mul(K).sum((-1, -2))",
    "    return torch.Tensor.unfold(X, 0, 2, 1)",
    "    return F.unfold(X[None, None], K.shape)",
    "    return torch.einsum('ij,ij->', X, K) + F.pad(X, (1, 1)).sum() + torch.matmul(X, K).sum()",
    "    return self.conv(X) if False else X.conv2d",
    "    conv2d = lambda a, b: a\n    return conv2d(X, K)",
], ids=["comment", "docstring", "string", "own_convolve2d", "variable_named_conv", "tensor_unfold",
        "Tensor_unfold", "F_unfold", "other_library_functions", "attributes_of_other_objects", "local_conv2d"])
def test_things_that_only_look_like_library_convolutions_are_ignored(body: str) -> None:
    cells = ("import torch\nimport torch.nn.functional as F\nimport numpy as np",
             "def convolve2d(X, K):\n    h, w = K.shape\n    return X[:h, :w] * K",
             f"def corr2d(X, K):\n{body}")
    assert found(*cells) == {}


def test_the_last_definition_wins() -> None:
    library = "import torch.nn.functional as F\ndef corr2d(X, K):\n    return F.conv2d(X, K)"
    scratch = "def corr2d(X, K):\n    return X[: X.shape[0] - K.shape[0] + 1] * 0"
    assert found(library, scratch) == {}
    assert found(scratch, library) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_a_helper_redefined_later_is_read_in_its_last_version() -> None:
    cells = ("import numpy as np",
             "def helper(X):\n    return X",
             "def corr2d(X, K):\n    return helper(X)",
             "def helper(X):\n    return np.convolve(X, X)")
    assert found(*cells) == {"corr2d": {"numpy.convolve"}}


def test_cells_with_ipython_magics_still_parse() -> None:
    cells = ("!pip install d2l\n%matplotlib inline\nimport torch.nn.functional as F",
             "%time y = 1\ndef corr2d(X, K):\n    !ls\n    return F.conv2d(X, K)")
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}
    line_magic = "%time y = 1\nimport numpy as np\n!ls -l\ndef corr2d(X, K):\n    return np.convolve(X, K)"
    assert found(line_magic) == {"corr2d": {"numpy.convolve"}}


def test_a_function_defined_under_a_cell_magic_is_still_read() -> None:
    cells = ("import torch.nn.functional as F", "%%time\ndef corr2d(X, K):\n    return F.conv2d(X, K)")
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_cells_with_syntax_errors_are_skipped_and_the_rest_still_read() -> None:
    cells = ("import torch.nn.functional as F",
             "def corr2d(X, K)\n    return X",  # missing colon
             "def broken(:",
             "def corr2d(X, K):\n    return F.conv2d(X, K)")
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_a_definition_only_in_a_broken_cell_is_not_found() -> None:
    cells = ("import torch.nn.functional as F", "def corr2d(X, K):\n    return F.conv2d(X, K)\n)")
    assert found(*cells) == {}


# --- The tampering check: what reaches the grader's watch, however it is spelled. ---


@pytest.mark.parametrize("cell", [
    "import os\nos.sys.modules['grader.worker.requests']",
    "import os\ns = os.sys\ns.modules.clear()",
    "import torch\ntorch.nn.functional.sys.settrace(None)",
    "import importlib\nimportlib.import_module('grader')",
    "m = __import__('grader')",
    "import torch.nn.functional as F\nc = getattr(F, 'con' + 'v2d')",
    "import torch\nsetattr(torch, name, None)",
    "f = (lambda: 0).__globals__",
    "f = (lambda: 0).__closure__",
    "code = (lambda: 0).__code__",
    "subclasses = object.__subclasses__()",
    "builtins = __builtins__",
    "d = type.__dict__",
    "getter = object.__getattribute__",
    "import operator\nget = operator.attrgetter('x')",
    "from operator import methodcaller",
    "import types\ntypes.CodeType",
    "import pickle\npickle.loads(b'')",
    "import marshal",
    "import threading\nthreading.Thread(target=print).start()",
    "import _thread",
    "import torch\nwith torch._C._DisableTorchDispatch():\n    pass",
    "from torch._C import _DisableTorchDispatch",
    "import torch\ntorch._C._ExcludeDispatchKeyGuard",
    "from torch.utils._python_dispatch import _disable_current_modes",
    "import torch\ntorch.jit._fork(print)",
    "get_ipython().input_transformers_cleanup.append(lambda lines: lines)",
    "ip = get_ipython()\nip.ast_transformers.append(None)",
    "get_ipython().input_transformer_manager.cleanup_transforms.clear()",
    "get_ipython().register_magic_function(print, 'line', 'x')",
    "get_ipython().run_cell('x = 1')",
    "%run helper.py",
    "%load helper.py",
    "get_ipython().run_line_magic(name, '')",
    "import sys\nsys.addaudithook(print)",
    "import os\nos.dup2(0, 5)",
    "import gc\ngc.get_objects()",
    "import ctypes",
    ("import torch\n@torch.library.custom_op('nb::c', mutates_args=())\ndef c(x: torch.Tensor) -> torch.Tensor:\n"
     "    return x"),
    "from torch.library import custom_op",
    ("class Lazy(torch.Tensor):\n    @classmethod\n"
     "    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):\n        pass"),
    "r = torch.Tensor._make_wrapper_subclass(cls, (2, 2))",
    "import logging\nframe = logging.currentframe()",
    "import string\nstring.Formatter().get_field('0.f_locals', (x,), {})",
    "import traceback\ntraceback.walk_stack(None)",
], ids=lambda cell: cell.replace("\n", "; ")[:60])
def test_tampering_is_found_however_it_is_spelled(cell: str) -> None:
    assert tampering((cell,)), cell


@pytest.mark.parametrize("cell", [
    "import torch\nimport torch.nn.functional as F\nimport numpy as np\nfrom torch import nn",
    "%time y = 1\n%matplotlib inline\n%timeit -n1 pass",
    ("class Layer(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.name = type(self).__name__"),
    "x = getattr(layer, 'weight')\nhasattr(layer, 'bias')",
    "get_ipython().system('ls')",
    "def __reduce__(self):\n    return None",
    "print(X.shape, X.dtype, torch.float64.is_floating_point)",
], ids=["imports", "harmless_magics", "class_name", "literal_getattr", "shell_system", "dunder_method_defined",
        "attributes"])
def test_honest_code_is_not_tampering(cell: str) -> None:
    assert tampering((cell,)) == set()


def test_a_literal_getattr_of_a_library_convolution_is_found() -> None:
    cells = ("import torch.nn.functional as F\ndef corr2d(X, K):\n    return getattr(F, 'conv2d')(X, K)",)
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


def test_a_module_bound_to_a_name_is_followed() -> None:
    cells = ("import torch\nfunctional = torch.nn.functional\ndef corr2d(X, K):\n    return functional.conv2d(X, K)",)
    assert found(*cells) == {"corr2d": {"torch.nn.functional.conv2d"}}


@pytest.mark.parametrize("cell", ["x = " + "(" * 5000 + ")" * 5000, "x = " + "-" * 20_000 + "1",
                                  "x = a" + "[0]" * 10_000, "x = 1" + " + 1" * 10_000],
                         ids=["nested_parentheses", "unary_chain_MemoryError", "subscripts_RecursionError",
                              "long_sum_RecursionError"])
def test_a_cell_that_would_exhaust_the_parser_is_skipped_not_a_crash(cell: str) -> None:
    cells = (cell, "import numpy as np\ndef corr2d(X, K):\n    return np.convolve(X, K)")
    assert found(*cells) == {"corr2d": {"numpy.convolve"}}
    assert tampering(cells) == set()


@pytest.mark.slow
def test_a_cell_of_many_shell_lines_is_read_in_linear_time_and_still_checked() -> None:
    # IPython's own translation takes minutes on 80 KB of `!ls`, then gives up with a RuntimeError.
    cell = "!ls\n" * 20_000 + "%run helper.py\nimport torch.nn.functional as F\ndef f(X):\n    return F.conv2d(X, X)\n"
    started = time.monotonic()
    assert tampering((cell,)) == {"%run"}
    assert library_convolutions((cell,), ["f"]) == {"f": {"torch.nn.functional.conv2d"}}
    assert time.monotonic() - started < 20  # about a second; generous for a loaded machine


# ---------------------------------------------------------------- what each assignment bans

POOLING = {"pool2d": frozenset({"pooling"})}


@pytest.mark.parametrize(("cells", "expected"), [
    (("import torch.nn.functional as F\ndef pool2d(X, p):\n    return F.max_pool2d(X, p)",),
     "torch.nn.functional.max_pool2d"),
    (("from torch import nn\ndef pool2d(X, p):\n    return nn.MaxPool2d(p)(X)",), "torch.nn.MaxPool2d"),
    (("import torch\ndef pool2d(X, p):\n    return torch.max_pool2d(X, p)",), "torch.max_pool2d"),
    (("import torch.nn.functional as F\ndef pool2d(X, p):\n    return F.avg_pool2d(X, p)",),
     "torch.nn.functional.avg_pool2d"),
    (("import torch.nn as nn\ndef pool2d(X, p):\n    return nn.AdaptiveAvgPool2d(1)(X)",),
     "torch.nn.AdaptiveAvgPool2d"),
    (("import torch.nn.functional as F\ndef pool2d(X, p):\n    return F.adaptive_max_pool2d(X, 1)",),
     "torch.nn.functional.adaptive_max_pool2d"),
    (("import torch.nn.functional as F\ndef pool2d(X, p):\n    return F.lp_pool2d(X, 1, p)",),
     "torch.nn.functional.lp_pool2d"),
    (("import torch.nn.functional as F\ndef pool2d(X, p):\n    return getattr(F, 'max_pool2d')(X, p)",),
     "torch.nn.functional.max_pool2d"),
    (("import torch\ndef pool2d(X, p):\n    return torch.ops.aten.avg_pool2d(X, p)",), "torch.ops.aten.avg_pool2d"),
    (("from scipy import ndimage\ndef pool2d(X, p):\n    return ndimage.maximum_filter(X, p)[::p, ::p]",),
     "scipy.ndimage.maximum_filter"),
    (("from scipy.ndimage import uniform_filter as u\ndef pool2d(X, p):\n    return u(X, p)",),
     "scipy.ndimage.uniform_filter"),
], ids=["F_max_pool2d", "nn_MaxPool2d", "torch_max_pool2d", "F_avg_pool2d", "nn_AdaptiveAvgPool2d",
        "F_adaptive_max_pool2d", "F_lp_pool2d", "getattr_string", "aten_op", "scipy_maximum_filter",
        "scipy_uniform_filter_alias"])
def test_library_pooling_is_found_where_the_assignment_bans_pooling(cells: tuple[str, ...], expected: str) -> None:
    assert library_convolutions(cells, ["pool2d"], POOLING) == {"pool2d": {expected}}
    assert library_convolutions(cells, ["pool2d"]) == {}  # by default only convolutions are banned


def test_unfold_and_reductions_are_not_library_pooling() -> None:
    cells = (("import torch.nn.functional as F\nimport numpy as np\n"
              "def pool2d(X, p):\n    w = F.unfold(X, p, stride=p)\n    v = X.unfold(2, p, p).unfold(3, p, p)\n"
              "    s = np.lib.stride_tricks.sliding_window_view(X.numpy(), (p, p))\n"
              "    return w.amax(1), v.mean((-2, -1)), X.max(), torch.maximum(X, X), s.max()"),)
    assert library_convolutions(cells, ["pool2d"], POOLING) == {}


def test_a_convolution_is_found_only_where_its_family_is_banned() -> None:
    cells = ("import torch.nn.functional as F\ndef pool2d(X, p):\n    return F.avg_pool2d(F.conv2d(X, X), p)",)
    assert library_convolutions(cells, ["pool2d"], POOLING) == {"pool2d": {"torch.nn.functional.avg_pool2d"}}
    assert library_convolutions(cells, ["pool2d"], {"pool2d": frozenset({"pooling", "convolution"})}) == {
        "pool2d": {"torch.nn.functional.avg_pool2d", "torch.nn.functional.conv2d"}}
    assert library_convolutions(cells, ["pool2d"]) == {"pool2d": {"torch.nn.functional.conv2d"}}


def test_library_pooling_in_a_helper_counts_against_the_function_that_calls_it() -> None:
    cells = ("from torch import nn", "def _window_max(X, p):\n    return nn.MaxPool2d(p)(X)",
             "def pool2d(X, p):\n    return _window_max(X, p)")
    assert library_convolutions(cells, ["pool2d"], POOLING) == {"pool2d": {"torch.nn.MaxPool2d"}}


def test_ipython_translation_has_a_budget_per_submission() -> None:
    # Cells that neither parse nor translate line by line go to IPython's translation, which tokenizes the
    # cell once per shell line: about 24 s for 20,000 characters of `!x`. A submission gets a few seconds of it.
    broken = "!x\n" * 6600 + "(\n"
    started = time.monotonic()
    assert list(parsed_cells((broken,) * 50)) == []
    assert time.monotonic() - started < 30


def test_a_line_separator_inside_a_string_does_not_hide_a_cell_with_shell_lines() -> None:
    # Python breaks lines at \n and \r only: splitting at U+2028 too would break the string, fail the
    # translation and, in a cell too big for IPython's, skip the cell whole.
    cell = ("!ls\nimport torch.nn.functional as F\nlabel = 'a\u2028b'\n# " + "x" * 25_000 + "\n"
            "def corr2d(X, K):\n    return F.conv2d(X, K)")
    assert library_convolutions((cell,), ["corr2d"]) == {"corr2d": {"torch.nn.functional.conv2d"}}
