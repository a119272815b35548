"""Plain data across the process boundary: the only way grader and worker talk.

A message is JSON plus raw buffers. Tensors travel as dtype, shape and bytes,
and everything else as JSON scalars, lists, tuples and string-keyed dicts.
Nothing that decodes here can run code, so the grader can read a message from
a worker that student code controls: the worst a forged message can do is fail
to decode, which the grader treats as the worker's failure.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from collections.abc import Mapping
from typing import Any

import torch

MAX_MESSAGE_BYTES = 1 << 30
MAX_DIMENSION = 1 << 40
_HEADER = struct.Struct("!QI")  # total length, JSON length

_DTYPES: dict[str, torch.dtype] = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
                  torch.complex128, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                  torch.bool)
}


class WireError(Exception):
    """A message that is not plain data, or is malformed."""


def encode(value: Any) -> bytes:
    buffers: list[bytes] = []
    document = json.dumps(_to_json(value, buffers), allow_nan=True, separators=(",", ":")).encode()
    payload = b"".join(buffers)
    return _HEADER.pack(len(document) + len(payload), len(document)) + document + payload


def decode(message: bytes) -> Any:
    if len(message) < _HEADER.size:
        raise WireError("truncated message")
    total, json_length = _HEADER.unpack_from(message)
    body = memoryview(message)[_HEADER.size:]
    if total != len(body) or json_length > total:
        raise WireError("message length does not match its header")
    try:
        document = json.loads(bytes(body[:json_length]))
    except (ValueError, RecursionError) as error:
        raise WireError(f"message is not JSON: {error}") from None
    return _from_json(document, body[json_length:])


def send(sock: socket.socket, value: Any) -> None:
    sock.sendall(encode(value))


def receive(sock: socket.socket) -> Any:
    """Read one message; raises EOFError when the peer has gone."""
    header = _read_exactly(sock, _HEADER.size)
    total, _ = _HEADER.unpack(header)
    if total > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {total} bytes is over the limit")
    return decode(header + _read_exactly(sock, total))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 22))
        if not chunk:
            raise EOFError("peer closed the connection")
        chunks += chunk
    return bytes(chunks)


def _to_json(value: Any, buffers: list[bytes]) -> Any:
    # Exact type checks: a subclass of int or str could carry behaviour of its own.
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value if abs(value) < 2**63 else float(value)
    if kind is float:
        return {"$float": repr(value)} if not math.isfinite(value) else value
    if kind in (list, tuple):
        items = [_to_json(item, buffers) for item in value]
        return {"$tuple": items} if kind is tuple else items
    if kind is dict:
        return {"$dict": [[_key(key), _to_json(item, buffers)] for key, item in value.items()]}
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


def _from_json(node: Any, payload: memoryview) -> Any:
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [_from_json(item, payload) for item in node]
    if type(node) is not dict or len(node) != 1:
        raise WireError("malformed object")
    (tag, content), = node.items()
    if tag == "$tuple" and type(content) is list:
        return tuple(_from_json(item, payload) for item in content)
    if tag == "$dict" and type(content) is list:
        pairs = [(item[0], _from_json(item[1], payload)) for item in content
                 if type(item) is list and len(item) == 2 and type(item[0]) is str]
        if len(pairs) != len(content):
            raise WireError("malformed dict")
        return dict(pairs)
    if tag == "$float" and content in ("nan", "inf", "-inf"):
        return float(content)
    if tag == "$tensor" and type(content) is dict:
        return _tensor_from_json(content, payload)
    raise WireError(f"unknown tag {tag!r}")


def _tensor_from_json(spec: Mapping[str, Any], payload: memoryview) -> torch.Tensor:
    dtype = _DTYPES.get(spec.get("dtype"))  # type: ignore[arg-type]
    shape = spec.get("shape")
    offset, nbytes = spec.get("offset"), spec.get("nbytes")
    if dtype is None or type(shape) is not list or not all(type(n) is int and 0 <= n for n in shape):
        raise WireError("malformed tensor")
    if type(offset) is not int or type(nbytes) is not int or offset < 0 or offset + nbytes > len(payload):
        raise WireError("tensor bytes out of range")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if any(n >= MAX_DIMENSION for n in shape) or math.prod(shape) * itemsize != nbytes:
        raise WireError("tensor size does not match its bytes")
    try:
        if nbytes == 0:
            return torch.empty(shape, dtype=dtype)
        raw = bytearray(payload[offset:offset + nbytes])
        return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape)
    except (RuntimeError, TypeError, ValueError) as error:
        raise WireError(f"malformed tensor: {error}") from None
