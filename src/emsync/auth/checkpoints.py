"""Signed checkpoints of the audit chain's head, kept outside the database (issue #14 item 6).

The keyed chain stops a database writer from recomputing hashes after an edit, but not from
deleting the newest entries (the chain that remains is intact) nor, for someone who also holds
the audit key, from rewriting it. A checkpoint records (seq, hash) of the head at a moment,
MAC'd with the audit key, appended as one JSON line to a file (ship it off the database host:
a log collector, WORM storage) and written to the log. `emsync audit verify` then requires
every checkpointed entry to be present and unchanged: a truncation below the last checkpoint or
a rewritten past is detected, also when the append-only trigger was bypassed by a database
superuser (`session_replication_role`, `ALTER TABLE ... DISABLE TRIGGER`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.auth.models import AuditEntry
from emsync.core.background import Periodic
from emsync.core.clock import Clock, as_utc
from emsync.core.crypto import Keyring
from emsync.core.settings import Settings

log = structlog.get_logger("emsync.audit")

AUDIT_KEY_ID = 1
_DERIVATION = b"emsync audit chain v1"


@dataclass(frozen=True, slots=True)
class AuditKey:
    key_id: int
    secret: bytes

    @property
    def keys(self) -> Mapping[int, bytes]:
        return {self.key_id: self.secret}


def audit_key(settings: Settings, keyring: Keyring) -> AuditKey:
    """EMSYNC_SECURITY__AUDIT_KEY (required in production), else one derived from the oldest
    master key (HKDF-like, HMAC-SHA256): neither is stored in the database."""
    configured = settings.security.audit_key
    if configured is not None:
        return AuditKey(AUDIT_KEY_ID, base64.b64decode(configured.get_secret_value()))
    oldest = keyring.keys[min(keyring.keys)]
    return AuditKey(AUDIT_KEY_ID, hmac.new(oldest, _DERIVATION, hashlib.sha256).digest())


def checkpoint_file(settings: Settings) -> Path:
    return settings.security.audit_checkpoint_file or settings.data_dir / "audit-checkpoints.jsonl"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    mac: str


def _mac(key: AuditKey, seq: int, head: str, at: str) -> str:
    body = json.dumps(["checkpoint", key.key_id, seq, head, at], separators=(",", ":"))
    return hmac.new(key.secret, body.encode(), hashlib.sha256).hexdigest()


def sign(key: AuditKey, *, seq: int, head: str, at: datetime) -> Checkpoint:
    stamp = as_utc(at).isoformat()
    return Checkpoint(seq=seq, hash=head, at=stamp, mac=_mac(key, seq, head, stamp))


def append(path: Path, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at, "mac": checkpoint.mac}
    )
    # One write of one line with O_APPEND: lines of several processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read(path: Path) -> list[Checkpoint | None]:
    """Checkpoints in the file, in order; None for a line that is not one (reported as such)."""
    if not path.exists():
        return []
    out: list[Checkpoint | None] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            out.append(Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["at"]), raw["mac"]))
        except (ValueError, KeyError, TypeError):
            out.append(None)
    return out


def check(
    checkpoints: Sequence[Checkpoint | None], key: AuditKey, hashes: Mapping[int, str], head: int
) -> str | None:
    """What is wrong with the stored chain against the checkpoints, or None.

    `hashes` holds the stored hash of each checkpointed seq that exists; `head` is the newest seq.
    """
    for n, cp in enumerate(checkpoints, start=1):
        if cp is None or not hmac.compare_digest(_mac(key, cp.seq, cp.hash, cp.at), cp.mac):
            return f"checkpoint {n} is not signed by the audit key (forged or damaged)"
        if cp.seq > head:
            return f"the log was truncated: entry {cp.seq} (checkpointed {cp.at}) is missing"
        stored = hashes.get(cp.seq)
        if stored is None:
            return f"entry {cp.seq} (checkpointed {cp.at}) is missing"
        if not hmac.compare_digest(stored, cp.hash):
            return f"entry {cp.seq} differs from its checkpoint of {cp.at}: the chain was rewritten"
    return None


async def head_of(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


class AuditCheckpointer:
    """Worker service: every `interval` seconds, a signed checkpoint of a head that moved."""

    name = "audit-checkpointer"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        key: AuditKey,
        path: Path,
        clock: Clock,
        *,
        interval: float,
    ) -> None:
        self._sessions = sessions
        self._key = key
        self._path = path
        self._clock = clock
        self._last: tuple[int, str] | None = None
        self._periodic = Periodic(self.name, lambda: interval, self.checkpoint)

    async def checkpoint(self) -> Checkpoint | None:
        """Write one now if the head moved since the last; returns it."""
        async with self._sessions() as session:
            head = await head_of(session)
        if head is None or head == self._last:
            return None
        cp = sign(self._key, seq=head[0], head=head[1], at=self._clock())
        await asyncio.to_thread(append, self._path, cp)
        # The log line is a second copy, wherever the logs are shipped.
        log.info("audit checkpoint", seq=cp.seq, hash=cp.hash, at=cp.at, mac=cp.mac)
        self._last = head
        return cp

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        # A last checkpoint on the way out, so a clean stop leaves the head recorded.
        try:
            await self.checkpoint()
        except Exception:  # logged; shutting down regardless
            log.warning("final audit checkpoint failed", exc_info=True)
