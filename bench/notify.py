"""Notifications through the outbox to a local SMTP server: prints one JSON line.

    .venv/bin/python bench/notify.py [--count 2000] [--rate 50] [--seconds 10]
        [--database-url postgresql+asyncpg://...]

Throughput: `count` e-mails are written to the outbox in one transaction, then the worker's
delivery rounds (claim, render, send over STARTTLS + AUTH through the connection pool, record
each attempt) drain them into a local SMTP server (aiosmtpd, on loopback); baseline: the same
messages sent straight through the same SMTP channel with the same concurrency, no outbox.
Latency at a fixed rate: one notification committed every 1/`rate` s for `seconds`, the worker
woken as a page opening in its process wakes it; the clock runs from the commit to the SMTP
server accepting the message (DATA answered). Baseline: the same send straight after each tick.
Also checked: every message arrived once (distinct Message-IDs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.progress import Progress

from emsync.bootstrap import create_app
from emsync.core import migrate
from emsync.core.background import ProcessRole
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.core.uow import UnitOfWork
from emsync.notifications import ChannelKind, Recipient, enqueue
from emsync.notifications.channels import Outgoing
from emsync.notifications.sandbox import SmtpSandbox
from emsync.notifications.smtp import SmtpChannel
from emsync.notifications.worker import NotificationWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import TEST_MASTER_KEYS, TEST_SECRET
from tests.live_server import free_port

USER, PASSWORD = "bench", "bench-smtp-password"


def settings(database_url: str, data_dir: Path, smtp: SmtpSandbox, concurrency: int) -> Settings:
    return Settings.model_validate(
        {
            "env": "test",
            "data_dir": data_dir,
            "log_level": "WARNING",
            "database": {"url": database_url},
            "auth": {"secret_key": TEST_SECRET},
            "security": {"master_keys": TEST_MASTER_KEYS},
            "notifications": {
                "poll_seconds": 3600,  # the bench drives the rounds (throughput) or wakes them
                "batch_size": 200,
                "concurrency": concurrency,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_ca_file": str(smtp.cert),
                "smtp_username": USER,
                "smtp_password": PASSWORD,
            },
        }
    )


async def write(runtime: Runtime, tag: str, count: int) -> None:
    async with runtime.sessions() as session:
        uow = UnitOfWork(session, runtime.bus)
        await enqueue(
            uow=uow,
            keyring=runtime.keyring,
            template="notice",
            recipients=[
                Recipient.at(ChannelKind.EMAIL, f"{tag}{i}@example.org") for i in range(count)
            ],
            data={"title": "Bed ready", "body": "Bed 4 in the ED is ready for the patient."},
            idempotency_key=f"bench:{tag}",
            now=runtime.clock(),
        )
        await uow.commit()


def outgoing(i: int, tag: str) -> Outgoing:
    return Outgoing(
        notification_id=f"{tag}{i}",
        idempotency_key=f"{tag}:{i}",
        channel=ChannelKind.EMAIL,
        address=f"{tag}{i}@example.org",
        subject="Bed ready",
        text="Bed 4 in the ED is ready for the patient.",
    )


async def throughput(
    runtime: Runtime, worker: NotificationWorker, smtp: SmtpSandbox, args: Any
) -> dict[str, float]:
    channel = SmtpChannel(
        host="127.0.0.1", port=smtp.port, sender="bench@localhost", username=USER,
        password=PASSWORD, ca_file=smtp.cert, pool_size=args.concurrency,
    )  # fmt: skip
    gate = asyncio.Semaphore(args.concurrency)

    async def send(i: int) -> None:
        async with gate:
            await channel.send(outgoing(i, "raw"))

    start = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(args.count)))
    raw = time.perf_counter() - start
    await channel.close()

    await write(runtime, "tp", args.count)
    before = len(smtp.box.messages)
    start = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task("outbox -> SMTP", total=args.count)
        while len(smtp.box.messages) - before < args.count:
            if await worker.deliver_once() == 0:
                break
            progress.update(task, completed=len(smtp.box.messages) - before)
    outbox = time.perf_counter() - start
    return {"outbox_per_s": args.count / outbox, "raw_smtp_per_s": args.count / raw}


async def latency(
    runtime: Runtime, worker: NotificationWorker, smtp: SmtpSandbox, args: Any
) -> dict[str, float]:
    arrivals = smtp.arrivals
    total = int(args.rate * args.seconds)
    committed: dict[str, float] = {}
    await worker.start()
    try:
        t0 = time.perf_counter()
        for i in range(total):
            await asyncio.sleep(max(0.0, i / args.rate - (time.perf_counter() - t0)))
            tag = f"lat{i}-"
            await write(runtime, tag, 1)
            committed[f"{tag}0@example.org"] = time.perf_counter()
            worker.wake()  # as a page opening in this process wakes it
        deadline = time.perf_counter() + 60
        # The SMTP server's thread fills `arrivals`: poll it.
        while sum(k in arrivals for k in committed) < total and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    outbox_ms = sorted((arrivals[k] - t) * 1000 for k, t in committed.items() if k in arrivals)

    channel = SmtpChannel(
        host="127.0.0.1", port=smtp.port, sender="bench@localhost", username=USER,
        password=PASSWORD, ca_file=smtp.cert,
    )  # fmt: skip
    raw_ms = []
    t1 = time.perf_counter()
    for i in range(total):
        await asyncio.sleep(max(0.0, i / args.rate - (time.perf_counter() - t1)))
        message = outgoing(i, "rawlat")
        began = time.perf_counter()
        await channel.send(message)
        raw_ms.append((arrivals[message.address] - began) * 1000)
    await channel.close()
    raw_ms.sort()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    return {
        "rate": args.rate,
        "latency_samples": len(outbox_ms),
        "lost": total - len(outbox_ms),
        "p50_ms": round(statistics.median(outbox_ms), 2) if outbox_ms else float("nan"),
        "p99_ms": round(pct(outbox_ms, 0.99), 2),
        "raw_p50_ms": round(statistics.median(raw_ms), 2),
        "raw_p99_ms": round(pct(raw_ms, 0.99), 2),
    }


async def run(args: Any, database_url: str, data_dir: Path) -> dict[str, Any]:
    smtp = SmtpSandbox(free_port(), data_dir / "tls", username=USER, password=PASSWORD).start()
    try:
        app = create_app(
            settings(database_url, data_dir, smtp, args.concurrency), roles=(ProcessRole.WORKER,)
        )
        runtime: Runtime = app.state.runtime
        worker = runtime.get(NotificationWorker)
        result: dict[str, Any] = {
            "bench": "notify",
            "database": runtime.engine.dialect.name,
            "count": args.count,
        }
        result.update(await throughput(runtime, worker, smtp, args))
        result["ratio"] = round(result["outbox_per_s"] / result["raw_smtp_per_s"], 3)
        result["outbox_per_s"] = round(result["outbox_per_s"], 1)
        result["raw_smtp_per_s"] = round(result["raw_smtp_per_s"], 1)
        result.update(await latency(runtime, worker, smtp, args))
        ids = [str(m["Message-ID"]) for m in smtp.box.messages]
        result["duplicates"] = len(ids) - len(set(ids))
        await runtime.engine.dispose()
        return result
    finally:
        smtp.stop()


def main(args: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
        if args.database_url is None:
            migrate.upgrade(database_url)
        result = asyncio.run(run(args, database_url, data_dir))
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--database-url", default=None, help="a migrated database (default: SQLite)"
    )
    main(parser.parse_args())
