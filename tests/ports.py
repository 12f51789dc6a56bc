"""Loopback ports for the servers the tests start (EMsync, Mosquitto, Redis, sandboxes).

Asking the kernel for port 0 hands out a port from its ephemeral range, and then closes it
before the server binds: in that gap any outgoing connection on the machine (a database
client, a browser, another test's HTTP call) may be given the same port as its local end,
and the server fails with "address already in use". That happened in a full run. So ports
come from below the ephemeral range, where the kernel never assigns one by itself: only a
listener asking for that exact number can take it. Each process walks its own stretch of
that range (each xdist worker its own), and a port is handed out only after a test bind
shows it free.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

_FLOOR = 10_000  # above the well-known and most registered service ports on a dev machine
_STRETCH = 1_000  # ports each process walks before wrapping around


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux's default
    return max(low, _FLOOR + _STRETCH)


_LOW = _ephemeral_low()
_SLOTS = (_LOW - _FLOOR) // _STRETCH
# An xdist worker's number keeps two workers of one run apart for sure; a pid only most likely.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
_SLOT = (int(_WORKER) + 1 if _WORKER.isdigit() else os.getpid()) % _SLOTS
_START = _FLOOR + _SLOT * _STRETCH
_NEXT = itertools.cycle(range(_START, _START + _STRETCH))


def free_port() -> int:
    """A loopback TCP port that was free a moment ago and that the kernel will not hand to an
    outgoing connection meanwhile."""
    for _ in range(_STRETCH):
        port = next(_NEXT)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken (a listener, or a socket of ours still closing): the next one
        return port
    raise RuntimeError(f"no free loopback port in {_START}-{_START + _STRETCH - 1}")
