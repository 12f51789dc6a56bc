"""py-spy sampling a server under a bench (all threads, raw collapsed stacks), for the benches'
`--profile FILE` (py-spy: in the dev install)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def record(
    path: str | None, pid: int, *, rate: int, nonblocking: bool
) -> subprocess.Popen[bytes] | None:
    """Start py-spy on `pid` writing to `path` (nothing if `path` is None); stop it with
    `.terminate()` and wait, and the file is written.

    `nonblocking` samples without pausing the server: figures of the run stay comparable, at the
    price of stacks sometimes torn. Paused (the default of py-spy), a server sampled hundreds of
    times a second is another, slower process; compare its figures with no other run.
    py-spy counts a thread waiting for the GIL as active: worker threads look busy in the profile
    although /proc shows them using little CPU; read the event loop thread's stacks."""
    if path is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--threads", "--rate", str(rate)]
    if nonblocking:
        command.append("--nonblocking")
    proc = subprocess.Popen(
        [*command, "--format", "raw", "-o", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # attached before the measured phase starts (py-spy takes ~1 s to attach)
    return proc
