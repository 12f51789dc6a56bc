"""The compose stack of deploy/compose.yaml on this machine's private Docker Engine (make
deploy-test): images, secrets, start, health, and tearing it all down again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.shared_data import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
DOCKER = "/usr/bin/docker"
PROJECT = "emsync-deploytest"
COMPOSE_FILES = ("-f", str(DEPLOY / "compose.yaml"), "-f", str(DEPLOY / "local/compose.local.yaml"))
HTTPS_PORT = 18443
HTTP_PORT = 18080
# Every port the stack listens on (host networking): all must be free before it starts.
PORTS = (
    15432, 16379, 15673, 14369, 25673, 8883, 18101, 18102, 18201, 18202, 18301, 19090,
    HTTPS_PORT, HTTP_PORT,
)  # fmt: skip
SERVICES = (
    "postgres", "redis", "rabbitmq", "mosquitto", "migrate", "api-1", "api-2", "ingest-1",
    "ingest-2", "worker", "gateway", "prometheus",
)  # fmt: skip


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_dockerd() -> bool:
    """The private engine (deploy/local/dockerd.sh); True if this call started it."""
    pid_file = Path("/run/emsync-docker/dockerd.pid")
    running = pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists()
    run(str(DEPLOY / "local/dockerd.sh"), "start")
    return not running


def stop_dockerd() -> None:
    run(str(DEPLOY / "local/dockerd.sh"), "stop")


@dataclass(frozen=True, slots=True)
class Image:
    tag: str
    size_bytes: int
    build_seconds: float


def build_image(tag: str = "emsync:latest") -> Image:
    run(str(DEPLOY / "local/base-images.sh"))
    started = time.monotonic()
    run(
        DOCKER, "build", "--network", "host",
        "--build-arg", "PYTHON_IMAGE=emsync-local/python:3.11",
        "--build-arg", "NODE_IMAGE=emsync-local/node:20",
        "-t", tag, str(REPO_ROOT),
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    seconds = time.monotonic() - started
    size = int(run(DOCKER, "image", "inspect", tag, "--format", "{{.Size}}").strip())
    return Image(tag=tag, size_bytes=size, build_seconds=seconds)


@dataclass(frozen=True, slots=True)
class Stack:
    secrets: Path
    env: dict[str, str]
    seconds_to_healthy: float

    @property
    def gateway(self) -> str:
        return f"https://127.0.0.1:{HTTPS_PORT}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        return run("docker-compose", "-p", PROJECT, *COMPOSE_FILES, *args, env=self.env,
                   timeout=timeout)  # fmt: skip

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def kill(self, service: str) -> None:
        """SIGKILL to the container's main process from the host, as a crash would be: the
        restart policy brings it back (`docker kill` counts as a manual stop: it would not)."""
        pid = int(run(DOCKER, "inspect", "--format", "{{.State.Pid}}", self.container(service)))
        os.kill(pid, signal.SIGKILL)

    def restarts(self, service: str) -> int:
        out = run(DOCKER, "inspect", "--format", "{{.RestartCount}}", self.container(service))
        return int(out)

    def health(self, service: str) -> str:
        state = json.loads(run(DOCKER, "inspect", self.container(service)))[0]["State"]
        return str(state.get("Health", {}).get("Status", state["Status"]))

    def sql(self, query: str) -> list[list[str]]:
        out = run(
            # The container's Unix socket: local connections are trusted inside it.
            DOCKER, "exec", self.container("postgres"), "psql", "-h", "/var/run/postgresql",
            "-p", "15432", "-U", "emsync", "-d", "emsync", "-At", "-F", "\t", "-c", query,
            env={**os.environ},
        )  # fmt: skip
        return [line.split("\t") for line in out.splitlines() if line]

    def logs(self, *services: str, tail: str = "60") -> str:
        return self.compose("logs", "--no-color", "--tail", tail, *services)


def _wait_healthy(stack: Stack, timeout: float) -> None:
    long_running = [s for s in SERVICES if s not in ("migrate", "prometheus")]
    deadline = time.monotonic() + timeout
    while True:
        states = {s: stack.health(s) for s in long_running}
        if all(v == "healthy" for v in states.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout:.0f} s: {states}\n{stack.logs()}")
        time.sleep(1)


@contextmanager
def running_stack(workdir: Path) -> Iterator[Stack]:
    busy = [p for p in PORTS if not _port_free(p)]
    if busy:
        raise RuntimeError(f"ports in use on 127.0.0.1, the stack needs them: {busy}")
    secrets = workdir / "secrets"
    run(sys.executable, str(DEPLOY / "make-secrets.py"), "--dir", str(secrets), "init")
    env = {
        **os.environ,
        "EMSYNC_SECRETS": str(secrets),
        "EMSYNC_IMAGE": "emsync:latest",
        "EMSYNC_PUBLIC_ADDRESS": "127.0.0.1",
        "EMSYNC_PUBLIC_URL": f"https://127.0.0.1:{HTTPS_PORT}",
        "EMSYNC_HTTPS_PORT": str(HTTPS_PORT),
        "EMSYNC_HTTP_PORT": str(HTTP_PORT),
    }
    started = time.monotonic()
    stack = Stack(secrets=secrets, env=env, seconds_to_healthy=0.0)
    try:
        stack.compose("up", "-d", *SERVICES, timeout=900)
        _wait_healthy(stack, timeout=300)
        yield Stack(secrets=secrets, env=env, seconds_to_healthy=time.monotonic() - started)
    finally:
        try:
            (workdir / "compose.log").write_text(stack.logs())
        finally:
            stack.compose("down", "-v", "--remove-orphans", timeout=300)
