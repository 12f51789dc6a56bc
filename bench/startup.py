"""Start-up cost, paired A/B: `import emsync.bootstrap`, `emsync --help` and `emsync serve` until
its first `/health` answer, alternating a base source tree and this one (same interpreter).

    python bench/startup.py --base /path/to/other/checkout/src --pairs 3 --port 18400

(Each tree needs its compiled extension, src/emsync/telemetry/_ascon*.so, beside its sources.)

Wall and CPU seconds (the child's user+sys) per run, the load average with each pair, and the
median ratios new/base (on a loaded machine the CPU ratio is the steadier one). Each serve gets
a fresh data directory (SQLite, embedded MQTT broker)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parents[1] / "src"


def _cpu(pid: int) -> float:
    """user+sys seconds of a running process (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(src: Path, args: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    before = os.times()
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return time.perf_counter() - start, cpu


def _serve(src: Path, port: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="emsync-startup-") as data:
        env = {
            **os.environ,
            "PYTHONPATH": str(src),
            "EMSYNC_ENV": "development",
            "EMSYNC_DATA_DIR": data,
            "EMSYNC_PORT": str(port),
            "EMSYNC_MQTT__PORT": str(port + 1),
            "EMSYNC_ADMIN_USERNAME": "admin",
            "EMSYNC_ADMIN_PASSWORD": "bench-admin-password-123",
            "EMSYNC_LOG_LEVEL": "WARNING",
        }
        env.pop("EMSYNC_DATABASE__URL", None)
        env.pop("EMSYNC_MQTT__HOST", None)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "emsync", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"emsync serve ({src}) exited with {proc.returncode}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        return time.perf_counter() - start, _cpu(proc.pid)
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="the other tree's src/")
    parser.add_argument("--new", type=Path, default=HERE, help="this tree's src/ by default")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18400)
    args = parser.parse_args()
    measures = {
        "import emsync.bootstrap": lambda src: _run(src, ["-c", "import emsync.bootstrap"]),
        "emsync --help": lambda src: _run(src, ["-m", "emsync", "--help"]),
        "serve to /health": lambda src: _serve(src, args.port),
    }
    for name, measure in measures.items():
        ratios, cpu_ratios = [], []
        for pair in range(args.pairs):
            load = os.getloadavg()[0]
            base = measure(args.base)
            new = measure(args.new)
            ratios.append(new[0] / base[0])
            cpu_ratios.append(new[1] / base[1])
            print(
                f"{name} pair {pair + 1}: base {base[0]:.2f} s wall {base[1]:.2f} s cpu, "
                f"new {new[0]:.2f} s wall {new[1]:.2f} s cpu, load {load:.2f}",
                flush=True,
            )
        print(
            f"{name}: median ratio new/base, wall {statistics.median(ratios):.2f}, "
            f"cpu {statistics.median(cpu_ratios):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
