"""The Student proxy and the recipes behind it, in-process through `local_student`."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader.authoring.testkit import StudentFailure, Training
from grader.grading.student import (
    EVIDENCE_LIMIT,
    MAX_EVIDENCE,
    StudentProxy,
    local_student,
    local_transport,
)
from grader.worker.quote import MESSAGE_LIMIT

NOTEBOOK = '''
import numpy as np
import torch
import torch.nn.functional as F

def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1, dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y

def library_corr2d(X, K):
    return F.conv2d(X[None, None], K[None, None])[0, 0]

def numpy_corr(x, k):
    return torch.from_numpy(np.convolve(x.numpy(), k.numpy()[::-1], mode="valid").copy())

def shape_of(X):
    return tuple(X.shape)

def fails(X):
    raise ValueError("the kernel is too big")

def returns_int(X):
    return 3

def returns_object(X):
    return object()

def returns_numpy_scalar(X):
    return np.float64(2.5)

def mixed(X):
    return {"sum": X.sum(), "items": [1, 2.5, "three", None], "pair": (True, X)}

def scaled_product(X, K):
    return X * K * 3

def detached(X, K):
    return (X * K).detach()

def half_detached(X, K):
    return X.detach() * K

class Scale(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.bias = torch.nn.Parameter(torch.zeros(n))

    def forward(self, x):
        return x * self.weight + self.bias

def not_a_module(n):
    return [n]

def pixel_loop(X):
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            total += float(X[i, j])
    return total

def vectorized(X):
    return X.sum()

not_callable = 42
'''


@pytest.fixture(scope="module")
def namespace() -> dict[str, Any]:
    names: dict[str, Any] = {}
    exec(compile(NOTEBOOK, "<cell 1>", "exec"), names)
    return names


@pytest.fixture
def student(namespace: dict[str, Any]) -> StudentProxy:
    return local_student(namespace, from_scratch=frozenset({"corr2d", "library_corr2d", "numpy_corr"}))


def failure(call: Any) -> StudentFailure:
    with pytest.raises(StudentFailure) as caught:
        call()
    return caught.value


def test_a_tensor_call_returns_the_students_tensor(student: StudentProxy) -> None:
    X = torch.arange(9.0).reshape(3, 3)
    Y = student.corr2d(X, torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    assert type(Y) is torch.Tensor
    assert torch.equal(Y, torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


def test_arguments_are_copies_the_student_cannot_change(namespace: dict[str, Any]) -> None:
    exec("def mutate(X):\n    X += 100\n    return X", namespace)
    X = torch.zeros(3)
    local_student(namespace).mutate(X)
    assert torch.equal(X, torch.zeros(3))


def test_a_call_returning_a_tuple_returns_a_tuple(student: StudentProxy) -> None:
    assert student.call("shape_of", torch.zeros(4, 5)) == (4, 5)
    assert type(student.call("shape_of", torch.zeros(4, 5))) is tuple


def test_a_call_returning_nested_plain_data_keeps_its_structure(student: StudentProxy) -> None:
    value = student.call("mixed", torch.ones(2))
    assert value["items"] == [1, 2.5, "three", None]
    assert value["pair"][0] is True and torch.equal(value["pair"][1], torch.ones(2))
    assert torch.equal(value["sum"], torch.tensor(2.0))


def test_a_numpy_scalar_return_becomes_a_python_number(student: StudentProxy) -> None:
    value = student.call("returns_numpy_scalar", torch.ones(1))
    assert value == 2.5 and type(value) is float


def test_a_missing_name_fails_as_missing(student: StudentProxy) -> None:
    caught = failure(lambda: student.pool2d(torch.ones(2, 2)))
    assert caught.kind == "missing" and "pool2d" in caught.message


def test_a_name_that_is_not_callable_fails_as_missing(student: StudentProxy) -> None:
    caught = failure(lambda: student.not_callable())
    assert caught.kind == "missing" and "not a function" in caught.message


def test_an_exception_from_student_code_fails_as_raised_with_its_type(student: StudentProxy) -> None:
    caught = failure(lambda: student.fails(torch.ones(1)))
    assert caught.kind == "raised"
    assert "ValueError" in caught.message and "the kernel is too big" in caught.message


def test_a_non_tensor_where_a_tensor_is_expected_fails_as_bad_return(student: StudentProxy) -> None:
    caught = failure(lambda: student.returns_int(torch.ones(1)))
    assert caught.kind == "bad_return" and "int" in caught.message
    assert student.call("returns_int", torch.ones(1)) == 3  # call() takes any plain data


def test_returning_an_arbitrary_object_fails_as_bad_return(student: StudentProxy) -> None:
    caught = failure(lambda: student.call("returns_object", torch.ones(1)))
    assert caught.kind == "bad_return" and "object" in caught.message


def test_a_from_scratch_function_using_conv2d_is_recorded(student: StudentProxy) -> None:
    Y = student.library_corr2d(torch.arange(9.0).reshape(3, 3), torch.ones(2, 2))
    assert Y.shape == (2, 2)
    recorded = student.library_convolutions["library_corr2d"]
    assert recorded and all("conv" in name for name in recorded)


def test_a_from_scratch_function_using_np_convolve_is_recorded(student: StudentProxy) -> None:
    y = student.numpy_corr(torch.arange(5.0, dtype=torch.float64), torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert torch.equal(y, torch.tensor([2.0, 5.0, 8.0, 11.0], dtype=torch.float64))
    assert student.library_convolutions == {"numpy_corr": {"numpy.convolve"}}


def test_a_from_scratch_function_without_library_convolutions_records_nothing(student: StudentProxy) -> None:
    student.corr2d(torch.ones(3, 3), torch.ones(2, 2))
    assert student.library_convolutions == {}


def test_a_function_not_declared_from_scratch_is_not_watched(namespace: dict[str, Any]) -> None:
    student = local_student(namespace, from_scratch=frozenset({"corr2d"}))
    student.library_corr2d(torch.ones(3, 3), torch.ones(2, 2))
    student.numpy_corr(torch.ones(4), torch.ones(2))
    assert student.library_convolutions == {}


def test_gradients_reach_each_requested_argument(student: StudentProxy) -> None:
    X, K = torch.arange(4.0).reshape(2, 2), torch.full((2, 2), 2.0)
    output, (dX, dK) = student.gradients("scaled_product", X, K, wrt=[0, 1])
    assert torch.equal(output, X * K * 3)
    assert dX is not None and dK is not None
    assert torch.equal(dX, K * 3) and torch.equal(dK, X * 3)
    assert not output.requires_grad


def test_gradients_use_the_given_grad_output(student: StudentProxy) -> None:
    X, K = torch.ones(2), torch.ones(2)
    _, (dX,) = student.gradients("scaled_product", X, K, wrt=[0], grad_output=torch.tensor([1.0, -2.0]))
    assert dX is not None and torch.equal(dX, torch.tensor([3.0, -6.0]))


def test_gradients_are_none_when_the_function_detaches(student: StudentProxy) -> None:
    _, grads = student.gradients("detached", torch.ones(2), torch.ones(2), wrt=[0, 1])
    assert grads == (None, None)
    _, (dX, dK) = student.gradients("half_detached", torch.ones(2), torch.full((2,), 5.0), wrt=[0, 1])
    assert dX is None and dK is not None and torch.equal(dK, torch.ones(2))


def test_module_builds_loads_parameters_and_runs_forward(student: StudentProxy) -> None:
    run = student.module("Scale", 3, parameters={"weight": torch.tensor([1.0, 2.0, 3.0])},
                         inputs=[torch.ones(3), torch.full((3,), 2.0)])
    assert set(run.parameters) == {"weight", "bias"}
    assert torch.equal(run.parameters["weight"], torch.tensor([1.0, 2.0, 3.0]))
    assert [o.tolist() for o in run.outputs] == [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]
    assert run.losses == ()


def test_module_training_records_a_falling_loss_per_step(student: StudentProxy) -> None:
    X, Y = torch.ones(4, 2), torch.full((4, 2), 3.0)
    run = student.module("Scale", 2, train=Training(X=X, Y=Y, lr=0.05, steps=6))
    assert len(run.losses) == 6
    assert all(type(loss) is float for loss in run.losses)
    assert run.losses[0] == pytest.approx(4 * 2 * (3.0 - 1.0) ** 2)
    assert list(run.losses) == sorted(run.losses, reverse=True) and run.losses[-1] < run.losses[0]
    assert not torch.equal(run.parameters["weight"], torch.ones(2))


def test_module_with_an_unknown_parameter_name_fails_as_bad_return(student: StudentProxy) -> None:
    caught = failure(lambda: student.module("Scale", 2, parameters={"kernel": torch.ones(2)}))
    assert caught.kind == "bad_return"
    assert "'kernel'" in caught.message and "weight" in caught.message


def test_module_failure_messages_name_the_class_once(student: StudentProxy) -> None:
    caught = failure(lambda: student.module("Scale", 2, parameters={"kernel": torch.ones(2)}))
    assert not caught.message.startswith("Scale Scale")


def test_module_whose_constructor_builds_no_module_fails_as_bad_return(student: StudentProxy) -> None:
    caught = failure(lambda: student.module("not_a_module", 2))
    assert caught.kind == "bad_return" and "nn.Module" in caught.message


def test_cost_of_a_pixel_loop_grows_with_the_image(student: StudentProxy) -> None:
    small = student.cost("pixel_loop", torch.ones(3, 3))
    large = student.cost("pixel_loop", torch.ones(6, 6))
    assert small.python_lines > 9
    assert large.python_lines > 3 * small.python_lines
    assert large.tensor_ops > small.tensor_ops


def test_cost_of_a_vectorized_function_does_not_grow_with_the_image(student: StudentProxy) -> None:
    small = student.cost("vectorized", torch.ones(3, 3))
    large = student.cost("vectorized", torch.ones(30, 30))
    assert small.python_lines == large.python_lines > 0
    assert small.tensor_ops == large.tensor_ops > 0


def test_cost_reports_a_failing_function_as_raised(student: StudentProxy) -> None:
    assert failure(lambda: student.cost("fails", torch.ones(1))).kind == "raised"


@pytest.mark.parametrize("reply", [
    None, "ok", [True], {"value": 1}, {"ok": "yes"}, {"ok": 1}, {"ok": False},
    {"ok": False, "kind": "exploded", "message": "x"}, {"ok": False, "kind": "raised", "message": 5},
    {"ok": True, "devices": "cpu"},
], ids=repr)
def test_a_malformed_reply_fails_as_crashed(reply: Any) -> None:
    proxy = StudentProxy(lambda request: reply)
    caught = failure(lambda: proxy.corr2d(torch.ones(2, 2), torch.ones(1, 1)))
    assert caught.kind == "crashed" and "corr2d" in caught.message


def test_requests_carry_the_device_and_the_from_scratch_flag() -> None:
    seen: list[dict[str, Any]] = []

    def transport(request: dict[str, Any]) -> Any:
        seen.append(request)
        return {"ok": True, "value": torch.zeros(1), "devices": ["cpu"]}

    proxy = StudentProxy(transport, from_scratch=frozenset({"corr2d"}))
    proxy.corr2d(torch.ones(1))
    proxy.scale(torch.ones(1))
    assert [(r["name"], r["recipe"], r["device"], r["from_scratch"]) for r in seen] == [
        ("corr2d", "call", "cpu", True), ("scale", "call", "cpu", False)]


@pytest.mark.parametrize("device", ["cuda:0", "meta", "cuda"])
def test_a_reply_with_a_tensor_on_another_device_fails_as_bad_return(device: str) -> None:
    proxy = StudentProxy(lambda request: {"ok": True, "value": torch.zeros(1), "devices": ["cpu", device]})
    caught = failure(lambda: proxy.corr2d(torch.ones(1)))
    assert caught.kind == "bad_return" and device in caught.message


def test_a_reply_on_the_requested_device_with_an_index_is_accepted() -> None:
    proxy = StudentProxy(lambda request: {"ok": True, "value": torch.zeros(1), "devices": ["cuda:1"]}, device="cuda")
    assert torch.equal(proxy.corr2d(torch.ones(1)), torch.zeros(1))


def test_a_reply_failure_kind_and_message_reach_the_test() -> None:
    proxy = StudentProxy(lambda request: {"ok": False, "kind": "timeout", "message": "corr2d ran for over 3 s"})
    caught = failure(lambda: proxy.corr2d(torch.ones(1)))
    assert (caught.kind, caught.message) == ("timeout", "corr2d ran for over 3 s")


def test_library_convolutions_in_a_failed_reply_are_still_recorded() -> None:
    proxy = StudentProxy(lambda request: {"ok": False, "kind": "raised", "message": "boom",
                                          "library_convolutions": ["aten.convolution.default"]})
    failure(lambda: proxy.corr2d(torch.ones(1)))
    assert proxy.library_convolutions == {"corr2d": {"aten.convolution.default"}}


def test_a_reply_with_an_invalid_device_name_fails_as_crashed() -> None:
    proxy = StudentProxy(lambda request: {"ok": True, "value": torch.zeros(1), "devices": ["banana"]})
    assert failure(lambda: proxy.corr2d(torch.ones(1))).kind == "crashed"


@pytest.mark.parametrize("value", [torch.zeros(2, 2), torch.zeros(()), "ab", {"parameters": torch.zeros(2)}],
                         ids=["2-row tensor", "0-d tensor", "string", "dict"])
def test_a_forged_value_for_gradients_or_module_fails_as_crashed_not_as_a_grader_error(value: Any) -> None:
    proxy = StudentProxy(lambda request: {"ok": True, "value": value, "devices": ["cpu"]})
    for call in (lambda: proxy.gradients("corr2d", torch.ones(1), wrt=[0, 1]), lambda: proxy.module("Conv2D")):
        assert failure(call).kind == "crashed"


def test_what_a_reply_quotes_is_cut_and_its_evidence_bounded() -> None:
    proxy = StudentProxy(lambda request: {"ok": False, "kind": "raised", "message": "ValueError: " + "v" * 10**6,
                                          "library_convolutions": [f"aten.{i}" + "c" * 10**4 for i in range(100)]})
    caught = failure(lambda: proxy.corr2d(torch.ones(1)))
    assert caught.message.startswith("corr2d raised ValueError: vvv") and len(caught.message) <= MESSAGE_LIMIT
    assert len(proxy.library_convolutions["corr2d"]) == MAX_EVIDENCE
    assert all(len(name) <= EVIDENCE_LIMIT for name in proxy.library_convolutions["corr2d"])


def test_each_from_scratch_function_is_watched_for_what_its_assignment_bans() -> None:
    namespace: dict[str, Any] = {}
    exec("import torch.nn.functional as F\n"
         "def pool2d(X, p):\n    return F.max_pool2d(X, p)\n"
         "def corr2d(X, K):\n    return F.conv2d(X[None, None], K[None, None])[0, 0]\n", namespace)
    student = local_student(namespace, from_scratch=frozenset({"pool2d", "corr2d"}),
                            may_not_call={"pool2d": frozenset({"pooling"})})
    student.pool2d(torch.ones(1, 4, 4), 2)
    student.corr2d(torch.ones(3, 3), torch.ones(2, 2))   # named no families: library convolutions are banned
    assert student.library_convolutions == {"pool2d": {"aten.max_pool2d_with_indices.default"},
                                            "corr2d": {"aten.convolution.default"}}
    lenient = local_student(namespace, from_scratch=frozenset({"pool2d"}),
                            may_not_call={"pool2d": frozenset({"convolution"})})
    lenient.pool2d(torch.ones(1, 4, 4), 2)
    assert lenient.library_convolutions == {}


# --- a wrong return type says what came back and what was expected ------------------------------------------------

WRONG_RETURNS = {
    "returns_array": (lambda X: X.numpy() * 2,
                      ("returned a numpy.ndarray of shape (2, 2) and dtype float32; expected a torch.Tensor "
                       "(torch.from_numpy converts one)")),
    "returns_list": (lambda X: X.tolist(), ("returned a list of 2 items (a list of 2 items, a list of 2 items); "
                                            "expected a torch.Tensor (torch.tensor converts a list of numbers)")),
    "returns_none": (lambda X: None, "returned None; expected a torch.Tensor (is a return statement missing?)"),
    "returns_float": (lambda X: float(X.sum()), ("returned a float (4.0); expected a torch.Tensor (torch.tensor "
                                                 "converts a number; or keep the tensor instead of calling .item()")),
    "returns_pair": (lambda X: (X, X.sum()), ("returned a tuple of 2 items (a torch.Tensor of shape (2, 2), a "
                                              "torch.Tensor of shape ()); expected a torch.Tensor (return the tensor "
                                              "itself, not a tuple holding it)")),
    "returns_triple": (lambda X: (1, 2, 3), ("returned a tuple of 3 items (an int (1), an int (2), an int (3)); "
                                             "expected a torch.Tensor")),
    "returns_numpy_number": (lambda X: X.numpy().sum(), "returned a numpy.float32 (4.0); expected a torch.Tensor"),
}


@pytest.mark.parametrize("name", list(WRONG_RETURNS))
def test_a_wrong_return_type_says_what_came_back_and_what_was_expected(name: str) -> None:
    function, expected = WRONG_RETURNS[name]
    caught = failure(lambda: local_student({name: function}).__getattr__(name)(torch.ones(2, 2)))
    assert caught.kind == "bad_return"
    assert caught.message.startswith(f"{name} {expected}")
    assert "raised" not in caught.message and "ValueError" not in caught.message


def test_a_numpy_array_where_plain_data_is_expected_says_how_to_convert_it() -> None:
    student = local_student({"shape_of": lambda X: __import__("numpy").array(X.shape),
                             "nested": lambda X: {"weight": X.numpy()}})
    caught = failure(lambda: student.call("shape_of", torch.ones(2, 3)))
    assert caught.kind == "bad_return" and caught.message.startswith(
        "shape_of returned a numpy.ndarray of shape (2,) and dtype int64, which the grader cannot take: return a "
        "torch.Tensor (torch.from_numpy converts one)")
    assert "inside the dict it returned" in failure(lambda: student.call("nested", torch.ones(1))).message


def test_a_worker_claiming_a_plain_value_where_a_tensor_is_expected_gets_the_same_message() -> None:
    proxy = StudentProxy(lambda request: {"ok": True, "value": [1.5, None], "devices": []})
    caught = failure(lambda: proxy.corr2d(torch.ones(1)))
    assert caught.kind == "bad_return"
    assert caught.message.startswith("corr2d returned a list of 2 items (a float (1.5), None); expected a torch.Tensor")


def test_a_hostile_type_name_is_escaped_and_cut() -> None:
    hostile = type("Evil\n\x1b[31m\u202e" + "x" * 10_000, (), {})
    caught = failure(lambda: local_student({"corr2d": lambda: hostile()}).corr2d())
    assert caught.kind == "bad_return" and "expected a torch.Tensor" in caught.message
    assert "\n" not in caught.message and "\x1b" not in caught.message and "\u202e" not in caught.message
    assert len(caught.message) < 200 and "characters cut" in caught.message


def test_a_gradients_call_on_a_function_returning_no_tensor_says_what_it_returned() -> None:
    student = local_student({"f": lambda X: X.tolist()})
    caught = failure(lambda: student.gradients("f", torch.ones(2), wrt=[0]))
    assert caught.kind == "bad_return" and caught.message.startswith("f returned a list of 2 items")


def test_a_missing_name_that_a_failed_cell_cost_says_which_cell() -> None:
    why = "cell 7 has a SyntaxError (line 3): invalid syntax, so corr2d is not defined"
    proxy = StudentProxy(local_transport({}), missing_because={"corr2d": why})
    assert failure(lambda: proxy.corr2d(torch.ones(1))).message == why
    assert failure(lambda: proxy.scale(torch.ones(1))).message == "the notebook does not define scale"
    not_callable = StudentProxy(local_transport({"corr2d": 3}), missing_because={"corr2d": why})
    assert "is defined but is not a function" in failure(lambda: not_callable.corr2d(torch.ones(1))).message
