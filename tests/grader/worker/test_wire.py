"""The wire format: plain data survives a round trip exactly, and nothing else
is encoded or decoded, whatever bytes a worker sends."""

from __future__ import annotations

import enum
import json
import math
import socket
import struct
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.worker import wire

HEADER = struct.Struct("!QI")
ALLOWED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
                  torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def round_trip(value: Any) -> Any:
    return wire.decode(wire.encode(value))


def raw_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().resolve_conj().resolve_neg().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def assert_identical(actual: Any, expected: Any) -> None:
    """Same types all the way down, same values, and tensors with the same bytes."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, torch.Tensor):
        assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape)
        assert raw_bytes(actual) == raw_bytes(expected)
    elif isinstance(expected, float):
        assert (math.isnan(actual) and math.isnan(expected)) or (
            actual == expected and math.copysign(1.0, actual) == math.copysign(1.0, expected))
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=False):
            assert_identical(a, e)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_identical(actual[key], expected[key])
    else:
        assert actual == expected


def forge(document: Any, payload: bytes = b"") -> bytes:
    """A message with a hand-written JSON document and a correct header."""
    raw = json.dumps(document).encode()
    return HEADER.pack(len(raw) + len(payload), len(raw)) + raw + payload


def tensor_spec(**fields: Any) -> dict[str, Any]:
    spec = {"dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8}
    spec.update(fields)
    return {"$tensor": spec}


# --- round trips of plain data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, False, 0, 1, -7, 2**63 - 1, -(2**63) + 1, 0.0, -0.0, 1.5, -2.25e-300, 1e308,
    float("inf"), float("-inf"), "", "héllo\x00wörld", "$tuple", "$tensor",
], ids=repr)
def test_scalars_round_trip_with_their_exact_type_and_value(value: Any) -> None:
    assert_identical(round_trip(value), value)


def test_nan_round_trips_as_a_float_nan() -> None:
    decoded = round_trip(float("nan"))
    assert type(decoded) is float and math.isnan(decoded)


def test_containers_round_trip_and_a_tuple_stays_a_tuple() -> None:
    value = {"list": [1, 2.5, "x"], "tuple": (1, (2, 3), []), "empty_dict": {}, "empty_tuple": (),
             "nested": {"a": [{"b": (None, True)}], "$tensor": "not a tensor", "$dict": [[1, 2]]}}
    decoded = round_trip(value)
    assert_identical(decoded, value)
    assert type(decoded["tuple"][1]) is tuple and type(decoded["list"]) is list


def test_dict_order_is_kept() -> None:
    value = {"z": 1, "a": 2, "m": 3}
    assert list(round_trip(value)) == ["z", "a", "m"]


@pytest.mark.parametrize("dtype", ALLOWED_DTYPES, ids=str)
def test_tensors_of_every_allowed_dtype_round_trip_bit_for_bit(dtype: torch.dtype) -> None:
    base = torch.tensor([[0.0, 1.0, -2.5], [3.25, -0.0, 100.0]], dtype=torch.float64)
    if dtype == torch.bool:
        tensor = base > 0
    elif dtype == torch.uint8:
        tensor = base.abs().to(dtype)
    elif dtype.is_complex:
        tensor = torch.complex(base, -base).to(dtype)
    else:
        tensor = base.to(dtype)
    decoded = round_trip(tensor)
    assert_identical(decoded, tensor)
    assert type(decoded) is torch.Tensor


@pytest.mark.parametrize("make", [
    lambda: torch.empty(0),
    lambda: torch.empty(0, 3, dtype=torch.int64),
    lambda: torch.empty(3, 0, 2, dtype=torch.bool),
    lambda: torch.tensor(3.5),
    lambda: torch.tensor(True),
    lambda: torch.tensor(7, dtype=torch.bfloat16),
], ids=["empty", "empty_2d", "empty_bool_3d", "zero_dim", "zero_dim_bool", "zero_dim_bfloat16"])
def test_empty_and_zero_dimensional_tensors_keep_their_shape(make: Any) -> None:
    tensor = make()
    decoded = round_trip(tensor)
    assert_identical(decoded, tensor)


@pytest.mark.parametrize("make", [
    lambda: torch.arange(24.0).reshape(4, 6)[:, ::2],
    lambda: torch.arange(12, dtype=torch.int32).reshape(3, 4).t(),
    lambda: torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1),
    lambda: torch.arange(5.0).expand(3, 5),
    lambda: torch.arange(10.0).flip(0)[2:7],
    lambda: torch.complex(torch.ones(3), torch.arange(3.0)).conj(),
    lambda: torch.arange(6.0).reshape(2, 3).requires_grad_(True) * 2,
], ids=["strided", "transposed", "permuted", "expanded", "flipped_slice", "conj_view", "requires_grad"])
def test_non_contiguous_and_view_tensors_serialize_their_logical_values(make: Any) -> None:
    tensor = make()
    decoded = round_trip(tensor)
    assert decoded.shape == tensor.shape and decoded.dtype == tensor.dtype
    assert torch.equal(decoded, tensor.detach().resolve_conj())
    assert not decoded.requires_grad


def test_decoded_tensors_are_writable_and_do_not_share_memory_with_each_other() -> None:
    a, b = round_trip([torch.zeros(3), torch.zeros(3)])
    a += 1
    assert torch.equal(b, torch.zeros(3)) and torch.equal(a, torch.ones(3))


def test_several_tensors_in_one_message_each_get_their_own_bytes() -> None:
    value = {"x": torch.arange(3, dtype=torch.int16), "y": (torch.tensor([1.5, 2.5]), torch.tensor(True)),
             "z": torch.empty(0), "w": torch.arange(4.0, dtype=torch.float64).reshape(2, 2)}
    assert_identical(round_trip(value), value)


def _tensors() -> st.SearchStrategy[torch.Tensor]:
    dtypes = st.sampled_from([torch.float32, torch.float64, torch.int64, torch.uint8, torch.bool, torch.bfloat16])
    shapes = st.lists(st.integers(0, 3), max_size=3)
    return st.builds(lambda d, s, seed: (torch.randn(s, generator=torch.Generator().manual_seed(seed)) * 10).to(d),
                     dtypes, shapes, st.integers(0, 2**16))


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=10) | _tensors(),
    lambda children: (st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple)
                      | st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12)


@pytest.mark.slow
@settings(max_examples=60, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_plain)
def test_any_plain_value_round_trips_exactly(value: Any) -> None:
    assert_identical(round_trip(value), value)


def test_send_and_receive_carry_one_message_over_a_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        value = {"ok": True, "value": (torch.arange(5.0), [1, "two"])}
        wire.send(left, value)
        assert_identical(wire.receive(right), value)


def test_receive_refuses_a_header_announcing_more_than_the_limit() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(HEADER.pack(wire.MAX_MESSAGE_BYTES + 1, 2))
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.receive(right)


def test_receive_raises_eof_when_the_peer_closes_mid_message() -> None:
    left, right = socket.socketpair()
    with right:
        message = wire.encode([1, 2, 3])
        left.sendall(message[:-2])
        left.close()
        with pytest.raises(EOFError):
            wire.receive(right)


# --- what is not plain data -----------------------------------------------------------------------------------

class Point:
    def __init__(self) -> None:
        self.x = 1


class MyInt(int):
    pass


class MyStr(str):
    pass


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("value", [
    Point(), lambda: 1, np.zeros(3), np.float64(1.0), MyInt(3), MyStr("x"), Colour.RED, {1: "a"}, {("a",): 1},
    {1, 2}, b"bytes", bytearray(b"x"), 1 + 2j, object, print,
], ids=["instance", "lambda", "numpy_array", "numpy_scalar", "int_subclass", "str_subclass", "int_enum",
        "int_key", "tuple_key", "set", "bytes", "bytearray", "complex", "class", "builtin"])
def test_values_that_are_not_plain_data_are_refused(value: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.encode(value)


@pytest.mark.parametrize("value", [[1, Point()], {"a": (1, [lambda: 0])}, ({"ok": np.zeros(1)},)],
                         ids=["in_list", "in_dict_tuple_list", "in_tuple_dict"])
def test_non_plain_data_nested_deep_inside_is_refused(value: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.encode(value)


@pytest.mark.parametrize("dtype", [torch.uint16, torch.float8_e4m3fn, torch.int32], ids=str)
def test_only_gradable_dtypes_are_encoded(dtype: torch.dtype) -> None:
    tensor = torch.zeros(2, dtype=dtype)
    if dtype in ALLOWED_DTYPES:
        assert_identical(round_trip(tensor), tensor)
    else:
        with pytest.raises(wire.WireError, match="dtype"):
            wire.encode(tensor)


class Liar(torch.Tensor):
    """Claims, through every torch function, to hold zeros."""

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return torch.zeros(1)


def test_a_tensor_subclass_that_lies_through_torch_function_still_sends_its_real_bytes() -> None:
    real = torch.arange(6.0).reshape(2, 3)
    liar = real.clone().as_subclass(Liar)
    assert torch.equal(torch.add(liar, 0), torch.zeros(1))  # the lie works on ordinary code
    decoded = round_trip({"value": liar})["value"]
    assert type(decoded) is torch.Tensor
    assert torch.equal(decoded, real)


# --- forged and malformed messages -------------------------------------------------------------------------------

def test_a_message_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode(wire.encode([1, 2])[:5])


def test_a_message_cut_short_is_refused() -> None:
    message = wire.encode({"x": torch.arange(10.0)})
    for cut in (1, 8, len(message) - HEADER.size - 1):
        with pytest.raises(wire.WireError, match="header"):
            wire.decode(message[:-cut])


def test_a_message_with_trailing_bytes_is_refused() -> None:
    with pytest.raises(wire.WireError, match="header"):
        wire.decode(wire.encode("x") + b"extra")


def test_a_json_length_beyond_the_body_is_refused() -> None:
    document = b"[1]"
    with pytest.raises(wire.WireError, match="header"):
        wire.decode(HEADER.pack(len(document), len(document) + 1) + document)


@pytest.mark.parametrize("document", [b"{not json", b"\x80\x81\xff", b"", b"[1, 2", b"[[]]]]"],
                         ids=["broken", "not_utf8", "empty", "unclosed", "unbalanced"])
def test_a_document_that_is_not_json_is_refused(document: bytes) -> None:
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.decode(HEADER.pack(len(document), len(document)) + document)


@pytest.mark.parametrize("document", [
    {"$pickle": "gASV"}, {"$object": {}}, {"a": 1}, {"$tuple": [1], "$dict": []}, {"$tuple": "abc"},
    {"$dict": {"a": 1}}, {"$dict": [["a"]]}, {"$dict": [[1, 2]]}, {"$dict": ["ab"]}, {"$float": "1.5"},
    {"$float": "NaN"}, {"$tensor": [1, 2]}, [1, {"$eval": "1+1"}],
], ids=repr)
def test_unknown_or_malformed_tags_are_refused(document: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(forge(document))


@pytest.mark.parametrize("spec", [
    {"dtype": "float128"}, {"dtype": "object"}, {"dtype": None}, {"dtype": "torch.float32"},
    {"shape": [-1]}, {"shape": [True, 2]}, {"shape": [2.0]}, {"shape": "2"}, {"shape": None},
], ids=repr)
def test_a_tensor_with_an_unknown_dtype_or_bad_shape_is_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(wire.WireError, match="malformed tensor"):
        wire.decode(forge(tensor_spec(**spec), bytes(8)))


@pytest.mark.parametrize("spec", [
    {"offset": 4}, {"offset": -8, "nbytes": 8}, {"offset": 0, "nbytes": 16, "shape": [4]}, {"offset": 1.0},
    {"nbytes": "8"}, {"offset": None},
], ids=repr)
def test_tensor_bytes_outside_the_payload_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(wire.WireError, match="out of range"):
        wire.decode(forge(tensor_spec(**spec), bytes(8)))


@pytest.mark.parametrize("spec", [
    {"shape": [3]}, {"shape": [1]}, {"shape": [], "nbytes": 8}, {"dtype": "float64", "shape": [2]},
    {"shape": [2, 0], "nbytes": 8}, {"shape": [2**62, 2**62]}, {"shape": [2**63]},
], ids=repr)
def test_tensor_bytes_that_do_not_match_shape_times_itemsize_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(wire.WireError, match="does not match"):
        wire.decode(forge(tensor_spec(**spec), bytes(8)))


def test_a_forged_tensor_reads_exactly_its_own_bytes_of_the_payload() -> None:
    payload = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    decoded = wire.decode(forge([tensor_spec(offset=8, nbytes=8), tensor_spec(offset=0, nbytes=8)], payload))
    assert torch.equal(decoded[0], torch.tensor([3.0, 4.0]))
    assert torch.equal(decoded[1], torch.tensor([1.0, 2.0]))


def test_an_empty_tensor_with_an_absurd_dimension_is_refused_as_a_wire_error() -> None:
    with pytest.raises(wire.WireError):
        wire.decode(forge(tensor_spec(shape=[0, 10**30], nbytes=0)))


@pytest.mark.parametrize("make", [lambda: torch.empty(2, device="meta"), lambda: torch.eye(2).to_sparse()],
                         ids=["meta", "sparse"])
def test_a_tensor_without_readable_storage_is_refused_as_a_wire_error(make: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.encode({"value": make()})


# --- what a reader takes in is bounded ------------------------------------------------------------------------------

def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    with left, right:
        yield left, right


@pytest.mark.slow
def test_a_reply_written_a_byte_at_a_time_is_cut_off_at_the_deadline(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    message = wire.encode({"ok": True, "value": list(range(100))})
    stop = threading.Event()

    def trickle() -> None:
        for byte in message:  # each byte well within any per-read timeout
            if stop.wait(0.02):
                return
            writer.send(bytes([byte]))

    thread = threading.Thread(target=trickle)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            wire.receive(reader, deadline=started + 0.5)
        assert time.monotonic() - started < 0.5 + 0.2
    finally:
        stop.set()
        thread.join()


def test_a_deadline_leaves_the_socket_s_own_timeout_as_it_was(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    reader.settimeout(7.0)
    wire.send(writer, [1, 2])
    assert wire.receive(reader, deadline=time.monotonic() + 5) == [1, 2]
    assert reader.gettimeout() == 7.0


@pytest.mark.parametrize("lengths", [(wire.MAX_MESSAGE_BYTES + 1, 2), (1 << 62, 2),
                                     (wire.MAX_DOCUMENT_BYTES + 1, wire.MAX_DOCUMENT_BYTES + 1)],
                         ids=["message", "absurd_message", "document"])
def test_a_message_over_a_limit_is_refused_from_its_header_and_its_body_is_never_read(
        pair: tuple[socket.socket, socket.socket], lengths: tuple[int, int]) -> None:
    writer, reader = pair
    writer.sendall(HEADER.pack(*lengths) + b"the body")
    tracemalloc.start()
    try:
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.receive(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    reader.setblocking(False)
    assert reader.recv(100) == b"the body"  # the read stopped at the header


def test_the_bounds_of_one_read_are_kept(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    wire.send(writer, "x" * 100)
    with pytest.raises(wire.WireError, match="over the limit of 64 bytes"):
        wire.receive(reader, bounds=wire.Bounds(message_bytes=64, document_bytes=64))


def test_a_document_nested_over_the_limit_is_refused_before_json_decodes_it() -> None:
    assert wire.decode(HEADER.pack(2 * wire.MAX_DEPTH, 2 * wire.MAX_DEPTH) + nested(wire.MAX_DEPTH)) == \
        json.loads(nested(wire.MAX_DEPTH))
    for depth in (wire.MAX_DEPTH + 1, 50_000):
        document = nested(depth)
        with pytest.raises(wire.WireError, match=f"nested {depth} deep is over the limit"):
            wire.decode(HEADER.pack(len(document), len(document)) + document)


def test_a_reply_of_nested_tuples_that_json_would_decode_is_refused_not_a_recursion_error(
        pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    document = b'{"$tuple":[' * 600 + b"1" + b"]}" * 600  # json.loads takes it; the grader must not recurse on it
    writer.sendall(HEADER.pack(len(document), len(document)) + document)
    with pytest.raises(wire.WireError, match="nested 1200 deep"):
        wire.receive(reader)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    value = {"text": "[" * 10_000 + '\\"{' * 1000, "keys": {"]" * 50: "{" * 50}}
    assert round_trip(value) == value


def test_a_document_of_too_many_containers_is_refused() -> None:
    document = b"[" + b",".join([b"[]"] * wire.MAX_CONTAINERS) + b"]"
    with pytest.raises(wire.WireError, match=f"{wire.MAX_CONTAINERS + 1} arrays and objects is over the limit"):
        wire.decode(HEADER.pack(len(document), len(document)) + document)


def test_decoding_builds_values_without_recursion() -> None:
    # Past the document check (MAX_DEPTH), the tree is walked with a stack of its own.
    tree: Any = 1
    for _ in range(5 * sys.getrecursionlimit()):
        tree = {"$tuple": [tree, "x"]}
    value = wire._from_json(tree, memoryview(b""))
    depth = 0
    while type(value) is tuple:
        value, depth = value[0], depth + 1
    assert (value, depth) == (1, 5 * sys.getrecursionlimit())


@pytest.mark.parametrize("spec", [
    {"dtype": "uint8", "shape": [wire.MAX_ELEMENTS + 1], "nbytes": wire.MAX_ELEMENTS + 1},
    {"dtype": "uint8", "shape": [1] * (wire.MAX_DIMENSIONS + 1), "nbytes": 1},
], ids=["elements", "dimensions"])
def test_a_tensor_over_the_element_or_dimension_limit_is_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.decode(forge(tensor_spec(offset=0, **spec), bytes(spec["nbytes"])))


@pytest.mark.parametrize("make", [
    lambda: torch.zeros(wire.MAX_ELEMENTS + 1, dtype=torch.uint8),
    lambda: torch.zeros([1] * (wire.MAX_DIMENSIONS + 1)),
    lambda: "x" * (wire.MAX_DOCUMENT_BYTES + 1),
], ids=["elements", "dimensions", "document"])
def test_a_value_over_a_limit_is_refused_when_encoded(make: Any) -> None:
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.encode({"value": make()})


def test_a_sender_can_check_a_message_against_its_reader_s_bounds() -> None:
    value = {"output": "x" * (wire.REPLY.document_bytes + 1)}
    assert wire.decode(wire.encode(value)) == value  # within any message's bounds
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.encode(value, wire.REPLY)


def test_a_value_nested_deeper_than_the_limit_is_a_wire_error_not_a_recursion_error() -> None:
    value: Any = 0
    for _ in range(10 * sys.getrecursionlimit()):
        value = [value]
    with pytest.raises(wire.WireError, match="nested"):
        wire.encode(value)


@pytest.mark.slow
def test_the_largest_reply_allowed_costs_the_reader_a_bounded_amount_of_memory(
        pair: tuple[socket.socket, socket.socket]) -> None:
    """The bounds hold memory down: a reply at every bound at once, its document
    built of the JSON that expands most when decoded (many small containers of floats)."""
    writer, reader = pair
    specs, offset = [], 0
    for dtype, itemsize in (("float64", 8), ("float32", 4), ("int16", 2)):  # each at the element limit
        nbytes = wire.MAX_ELEMENTS * itemsize
        specs.append({"$tensor": {"dtype": dtype, "shape": [wire.MAX_ELEMENTS], "offset": offset, "nbytes": nbytes}})
        offset += nbytes
    payload = bytes(offset)
    assert len(payload) == wire.REPLY.message_bytes - wire.REPLY.document_bytes
    filler = "[1.5,2.5,3.5,4.5,5.5,6.5,7.5],"
    room = wire.REPLY.document_bytes - len(json.dumps(specs)) - 10
    document = (json.dumps(specs)[:-1] + ",[" + (filler * min(room // len(filler), wire.MAX_CONTAINERS - 20))
                .rstrip(",") + "]]").encode()
    assert len(document) <= wire.REPLY.document_bytes
    message = HEADER.pack(len(document) + len(payload), len(document)) + document + payload
    thread = threading.Thread(target=writer.sendall, args=(message,), daemon=True)
    thread.start()
    del message
    tracemalloc.start()
    try:
        decoded = wire.receive(reader, deadline=time.monotonic() + 30, bounds=wire.REPLY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reader.close()  # a writer left blocked by a failed read gets an error, not a hang
        thread.join()
    assert decoded[0].numel() == wire.MAX_ELEMENTS and len(decoded[3]) > 60_000
    assert peak < 100 << 20


def test_lone_surrogates_from_a_worker_become_replacement_characters() -> None:
    # A worker's JSON may escape a lone surrogate, which results.json, the page and the terminal cannot encode.
    decoded = wire.decode(wire.encode({"message": "\ud800x", "notes": ["\udc00"], "\ud801": 1}))
    assert decoded == {"message": "\ufffdx", "notes": ["\ufffd"], "\ufffd": 1}


def test_an_integer_too_large_for_a_float_is_not_plain_data() -> None:
    # Not an OverflowError: a worker must answer "bad return", not crash on every call.
    assert wire.decode(wire.encode(2**70)) == float(2**70)
    with pytest.raises(wire.WireError, match="too large"):
        wire.encode(10**400)
