"""A plain worker's entry point (`python -m grader.worker.plain`), where there is no fork server.

Started by grader.host.plain_workers: it connects back over localhost, then serves as a forked worker does.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

ROLES = (b"r", b"e")           # its requests, its evidence: grader.host.plain_workers accepts them in this order
START_SECONDS = 60.0           # until it has connected both channels (before it imports torch)


def main() -> None:
    """The worker's side: connect, import torch, then serve as any worker does (grader.worker.serve)."""
    config = json.loads(sys.stdin.buffer.readline())
    channels = []
    for role in ROLES:
        channel = socket.create_connection(("127.0.0.1", int(config["port"])), timeout=START_SECONDS)
        channel.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        channel.sendall(str(config["token"]).encode() + role)
        channel.settimeout(None)
        channels.append(channel)
    os.environ["HOME"] = config["folder"]  # the worker's own temporary folder, as /tmp is a forked one's

    import numpy  # noqa: F401
    import torch  # noqa: F401

    from grader.worker import serve

    serve.preload(ipython_dir=str(Path(config["folder"]) / "ipython"))
    serve.serve(channels[0], channels[1], dict(config["settings"]), dict(config["isolation"]))


if __name__ == "__main__":
    try:
        main()
    finally:
        os._exit(70)
