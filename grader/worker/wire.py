"""Plain data across the process boundary: the only way grader and worker talk.

A message is JSON plus raw buffers. Tensors travel as dtype, shape and bytes,
and everything else as JSON scalars, lists, tuples and string-keyed dicts.
Nothing that decodes here can run code, so the grader can read a message from
a worker that student code controls: the worst a forged message can do is fail
to decode, which the grader treats as the worker's failure.

What a reader takes in is bounded before it is decoded: the message's bytes
and its JSON document's bytes (a `Bounds`, tighter for what the grader reads
from a worker: `REPLY`), the document's nesting depth and number of containers,
and each tensor's elements and dimensions; `receive` reads one message within
a deadline, however slowly the peer writes. The largest reply a legitimate
grading of every assignment produces is under 3 KB (330 tensor elements, JSON
nesting 9), and a cell's reply carries at most 20,000 characters of output:
the bounds leave margins of 10x and more over both.
"""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from grader.worker.json_shape import shape
from grader.worker.quote import encodable

MAX_MESSAGE_BYTES = 64 << 20      # any message: its JSON document and tensor bytes together
MAX_DOCUMENT_BYTES = 16 << 20     # its JSON document: a request carries a cell's source, escaped
MAX_DEPTH = 100                   # JSON arrays and objects inside each other
MAX_CONTAINERS = 1 << 16          # JSON arrays and objects in one document
MAX_ELEMENTS = 1 << 20            # in one tensor
MAX_DIMENSIONS = 32               # of one tensor
MAX_DIMENSION = 1 << 40           # one dimension's size, even of an empty tensor
_HEADER = struct.Struct("!QI")  # total length, JSON length

_DTYPES: dict[str, torch.dtype] = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
                  torch.complex128, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                  torch.bool)
}


class WireError(Exception):
    """A message that is not plain data, or is malformed, or is over a bound."""


@dataclasses.dataclass(frozen=True)
class Bounds:
    """How many bytes one read takes in, before decoding any of them."""
    message_bytes: int = MAX_MESSAGE_BYTES
    document_bytes: int = MAX_DOCUMENT_BYTES


ANY = Bounds()
# What the grader reads from a worker. A decoded JSON document takes up to
# 15 times its size in Python objects: 2 MiB of it, about 30 MiB.
REPLY = Bounds(message_bytes=16 << 20, document_bytes=2 << 20)


def encode(value: Any, bounds: Bounds = ANY) -> bytes:
    """The message for `value`; WireError if it is not plain data or is over a bound
    (`bounds`: the reader's), so that a sender learns of it before the reader refuses it."""
    buffers: list[bytes] = []
    document = json.dumps(_to_json(value, buffers, 0), allow_nan=True, separators=(",", ":")).encode()
    payload = b"".join(buffers)
    _check_lengths(len(document) + len(payload), len(document), bounds)
    _check_document(document)
    return _HEADER.pack(len(document) + len(payload), len(document)) + document + payload


def decode(message: bytes, bounds: Bounds = ANY) -> Any:
    if len(message) < _HEADER.size:
        raise WireError("truncated message")
    total, json_length = _HEADER.unpack_from(message)
    body = memoryview(message)[_HEADER.size:]
    if total != len(body) or json_length > total:
        raise WireError("message length does not match its header")
    _check_lengths(total, json_length, bounds)
    document = bytes(body[:json_length])
    _check_document(document)
    return _decode_body(document, body[json_length:])


def send(sock: socket.socket, value: Any) -> None:
    sock.sendall(encode(value))


def receive(sock: socket.socket, *, deadline: float | None = None, bounds: Bounds = ANY) -> Any:
    """Read one message within `bounds`, all of it by `deadline` (time.monotonic()).

    Raises EOFError when the peer has gone, TimeoutError past the deadline, and
    WireError for a message over a limit (refused from its header or its JSON
    document, before the rest is read) or malformed. Without a deadline, the
    socket's own timeout applies to each read.
    """
    previous_timeout = sock.gettimeout()
    try:
        header = _read_exactly(sock, _HEADER.size, deadline)
        total, json_length = _HEADER.unpack(header)
        _check_lengths(total, json_length, bounds)
        document = _read_exactly(sock, json_length, deadline)
        _check_document(document)
        payload = _read_exactly(sock, total - json_length, deadline)
    finally:
        if deadline is not None:
            sock.settimeout(previous_timeout)
    return _decode_body(document, memoryview(payload))


def _read_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    # Filled in place: a message costs its own size once, not again for each copy of its chunks.
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the message did not arrive in time ({filled} of {size} bytes read)")
            sock.settimeout(remaining)
        count = sock.recv_into(view[filled:], min(size - filled, 1 << 22))
        if not count:
            raise EOFError("peer closed the connection")
        filled += count
    return buffer


def _check_lengths(total: int, json_length: int, bounds: Bounds) -> None:
    if total > bounds.message_bytes:
        raise WireError(f"a message of {total} bytes is over the limit of {bounds.message_bytes} bytes")
    if json_length > total:
        raise WireError("message length does not match its header")
    if json_length > bounds.document_bytes:
        raise WireError(f"a JSON document of {json_length} bytes is over the limit of {bounds.document_bytes} bytes")


def _check_document(document: bytes | bytearray) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or holding more than
    MAX_CONTAINERS arrays and objects, before json.loads builds any of it."""
    measured = shape(document)
    if measured.containers > MAX_CONTAINERS:
        raise WireError(f"a JSON document of {measured.containers} arrays and objects is over the limit of "
                        f"{MAX_CONTAINERS}")
    if measured.left_open < 0:
        raise WireError("message is not JSON: unbalanced brackets")
    if measured.deepest > MAX_DEPTH:
        raise WireError(f"a JSON document nested {measured.deepest} deep is over the limit of {MAX_DEPTH}")


def _decode_body(document: bytes | bytearray, payload: memoryview) -> Any:
    """The value of a message whose lengths and document have passed their checks."""
    try:
        tree = json.loads(document)
    except (ValueError, RecursionError) as error:
        raise WireError(f"message is not JSON: {error}") from None
    if b"\\u" in document:  # only an escape can carry a lone surrogate, which no file could hold
        tree, _ = encodable(tree)
    return _from_json(tree, payload)


_FLOAT_MAX = 2**1024  # past it, float(value) overflows


def _to_json(value: Any, buffers: list[bytes], depth: int) -> Any:
    # Exact type checks: a subclass of int or str could carry behaviour of its own.
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        if abs(value) < 2**63:
            return value
        if abs(value) < _FLOAT_MAX:
            return float(value)
        raise WireError(f"an integer of {value.bit_length()} bits is too large for any float")
    if kind is float:
        return {"$float": repr(value)} if not math.isfinite(value) else value
    if depth >= MAX_DEPTH:  # a value's nesting is at most its document's
        raise WireError(f"a value nested more than {MAX_DEPTH} deep is over the limit")
    if kind in (list, tuple):
        items = [_to_json(item, buffers, depth + 1) for item in value]
        return {"$tuple": items} if kind is tuple else items
    if kind is dict:
        return {"$dict": [[_key(key), _to_json(item, buffers, depth + 1)] for key, item in value.items()]}
    if isinstance(value, torch.Tensor):
        return _tensor_to_json(value, buffers)
    raise WireError(f"{kind.__name__} is not plain data")


def _key(key: Any) -> str:
    if type(key) is not str:
        raise WireError("dict keys must be strings")
    return key


def _tensor_to_json(value: torch.Tensor, buffers: list[bytes]) -> dict[str, Any]:
    # Read the raw storage with subclass hooks off, so a tensor subclass cannot
    # substitute other bytes for what it holds.
    try:
        with torch._C.DisableTorchFunctionSubclass():
            plain = torch.Tensor.as_subclass(value, torch.Tensor)
            if plain.layout != torch.strided or plain.device.type == "meta":
                raise WireError(f"{plain.layout} tensors on {plain.device} hold no plain values")
            _check_tensor_size(list(plain.shape))  # before copying it
            data = plain.detach().resolve_conj().resolve_neg().to("cpu").contiguous().reshape(-1)
            raw = data.view(torch.uint8).numpy().tobytes() if data.numel() else b""
    except WireError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever torch refuses, the tensor is not plain data
        raise WireError(f"this tensor cannot be graded: {type(error).__name__}: {error}") from None
    dtype = str(data.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise WireError(f"tensors of dtype {dtype} cannot be graded")
    offset = sum(len(b) for b in buffers)
    buffers.append(raw)
    return {"$tensor": {"dtype": dtype, "shape": list(plain.shape), "offset": offset, "nbytes": len(raw)}}


@dataclasses.dataclass
class _Container:
    """A list, tuple or dict being decoded: its children still to decode, and those done."""
    children: Iterator[Any]
    finish: Callable[[list[Any]], Any]
    done: list[Any] = dataclasses.field(default_factory=list)


_END = object()


def _from_json(tree: Any, payload: memoryview) -> Any:
    """The value a JSON tree stands for, built with a stack of its own rather
    than by recursion: no document, however it nests, reaches Python's limit."""
    stack = [_Container(iter((tree,)), lambda done: done[0])]
    while True:
        top = stack[-1]
        node = next(top.children, _END)
        if node is _END:
            stack.pop()
            value = top.finish(top.done)
            if not stack:
                return value
            stack[-1].done.append(value)
            continue
        container = _container(node)
        if container is None:
            top.done.append(_leaf(node, payload))
        else:
            stack.append(container)


def _container(node: Any) -> _Container | None:
    if type(node) is list:
        return _sequence(node, list)
    if type(node) is not dict or len(node) != 1:
        return None
    (tag, content), = node.items()
    if tag == "$tuple" and type(content) is list:
        return _sequence(content, tuple)
    if tag == "$dict" and type(content) is list:
        if not all(type(item) is list and len(item) == 2 and type(item[0]) is str for item in content):
            raise WireError("malformed dict")
        keys = [item[0] for item in content]
        return _Container((item[1] for item in content), lambda done: dict(zip(keys, done, strict=True)))
    return None


def _sequence(items: list[Any], kind: Callable[[list[Any]], Any]) -> _Container:
    # A list of JSON scalars (most of a large reply) is its own value: no need to visit each item.
    if not any(type(item) is list or type(item) is dict for item in items):
        return _Container(iter(()), kind, list(items))
    return _Container(iter(items), kind)


def _leaf(node: Any, payload: memoryview) -> Any:
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is not dict or len(node) != 1:
        raise WireError("malformed object")
    (tag, content), = node.items()
    if tag == "$float" and content in ("nan", "inf", "-inf"):
        return float(content)
    if tag == "$tensor" and type(content) is dict:
        return _tensor_from_json(content, payload)
    raise WireError(f"unknown tag {str(tag)[:40]!r}")


def _tensor_from_json(spec: Mapping[str, Any], payload: memoryview) -> torch.Tensor:
    dtype = _DTYPES.get(spec.get("dtype"))  # type: ignore[arg-type]
    shape = spec.get("shape")
    offset, nbytes = spec.get("offset"), spec.get("nbytes")
    if dtype is None or type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("malformed tensor")
    if type(offset) is not int or type(nbytes) is not int or offset < 0 or offset + nbytes > len(payload):
        raise WireError("tensor bytes out of range")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if any(n >= MAX_DIMENSION for n in shape) or math.prod(shape) * itemsize != nbytes:
        raise WireError("tensor size does not match its bytes")
    _check_tensor_size(shape)
    try:
        if nbytes == 0:
            return torch.empty(shape, dtype=dtype)
        raw = bytearray(payload[offset:offset + nbytes])
        return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape)
    except (RuntimeError, TypeError, ValueError) as error:
        raise WireError(f"malformed tensor: {error}") from None


def _check_tensor_size(shape: list[int]) -> None:
    if len(shape) > MAX_DIMENSIONS:
        raise WireError(f"a tensor of {len(shape)} dimensions is over the limit of {MAX_DIMENSIONS}")
    if any(n >= MAX_DIMENSION for n in shape):
        raise WireError("a tensor dimension is over the limit")
    elements = math.prod(shape)
    if elements > MAX_ELEMENTS:
        raise WireError(f"a tensor of {elements} elements is over the limit of {MAX_ELEMENTS}")
