"""Hospital key pairs and the per-handoff data keys: enrolment, rotation, unwrapping, and
the sealed JSON every part of a handoff is stored as."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.db import insert_ignoring_conflicts
from emsync.core.errors import NotFound
from emsync.core.ids import new_id
from emsync.handoffs import sealing
from emsync.handoffs.lifecycle import HandoffStatus
from emsync.handoffs.models import (
    Handoff,
    HandoffAttachment,
    HandoffUpdate,
    HospitalFeed,
    HospitalKey,
)

S = HandoffStatus


# ---------------------------------------------------------------- hospital keys


def _key_aad(key_id: str) -> bytes:
    return f"handoff_hospital_key:{key_id}".encode()


async def ensure_feed(session: AsyncSession, hospital_id: str) -> None:
    # Insert-or-ignore: two first handoffs for a hospital at once must not race to create it.
    table = cast(Table, HospitalFeed.__table__)
    await session.execute(
        insert_ignoring_conflicts(table, session.get_bind().dialect.name).values(
            hospital_id=hospital_id, last_seq=0
        )
    )


async def _new_key(
    session: AsyncSession,
    keyring: Keyring,
    hospital_id: str,
    version: int,
    actor: str,
    now: datetime,
) -> HospitalKey:
    pair = sealing.generate_key_pair()
    key_id = new_id()
    row = HospitalKey(
        id=key_id,
        hospital_id=hospital_id,
        version=version,
        public_key=pair.public,
        private_key_sealed=keyring.seal(pair.private, aad=_key_aad(key_id)),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    await ensure_feed(session, hospital_id)
    await session.flush()
    # Remembered before it commits: should it not, the INSERT's check finds no such key.
    _remember_active(row)
    return row


_ACTIVE_KEY = (
    select(HospitalKey)
    .where(HospitalKey.hospital_id == bindparam("hospital_id"))
    .order_by(HospitalKey.version.desc())
    .limit(1)
)


async def active_key(session: AsyncSession, hospital_id: str) -> HospitalKey | None:
    key = (await session.scalars(_ACTIVE_KEY, {"hospital_id": hospital_id})).first()
    if key is not None:
        _remember(key)
        _remember_active(key)
    return key


def _remember_active(row: HospitalKey) -> None:
    _keep(_ACTIVE, row.hospital_id, ActiveKey(row.id, row.version, row.public_key))


@dataclass(frozen=True, slots=True)
class ActiveKey:
    id: str
    version: int
    public_key: bytes


# Each hospital's active key pair as this process last read it, to seal a new draft without
# selecting it (one statement of every create). Never trusted alone: the draft sealed for it is
# inserted only where that key exists and no newer one does (`KEY_IS_ACTIVE`, in the INSERT), so
# a rotation by any process is seen by the next create, with no fan-out and no expiry.
_ACTIVE: OrderedDict[str, ActiveKey] = OrderedDict()


def cached_active_key(hospital_id: str) -> ActiveKey | None:
    return _ACTIVE.get(hospital_id)


def forget_active_key(hospital_id: str) -> None:
    _ACTIVE.pop(hospital_id, None)


_KEYS: Table = HospitalKey.__table__  # type: ignore[assignment]
_NEWER = _KEYS.alias("newer")
# True where key `key_id` exists for `hospital_id` and is its newest version (the parameters are
# named as the handoff's own columns, so an INSERT of a handoff binds them with its values).
KEY_IS_ACTIVE = exists().where(
    _KEYS.c.id == bindparam("key_id"),
    _KEYS.c.hospital_id == bindparam("hospital_id"),
    ~exists().where(
        _NEWER.c.hospital_id == _KEYS.c.hospital_id, _NEWER.c.version > _KEYS.c.version
    ),
)


async def ensure_hospital_key(
    *, session: AsyncSession, keyring: Keyring, hospital_id: str, actor: str, now: datetime
) -> HospitalKey:
    """The hospital's active key pair, enrolling the hospital on its first handoff."""
    key = await active_key(session, hospital_id)
    return key or await _new_key(session, keyring, hospital_id, 1, actor, now)


async def rotate_hospital_key(
    *, session: AsyncSession, keyring: Keyring, hospital_id: str, actor: str, now: datetime
) -> HospitalKey:
    """A new active key pair; older pairs stay (sealed) so older handoffs still open."""
    current = await active_key(session, hospital_id)
    key = await _new_key(
        session, keyring, hospital_id, (current.version + 1) if current else 1, actor, now
    )
    await session.commit()
    return key


async def hospital_keys(*, session: AsyncSession, hospital_id: str) -> Sequence[HospitalKey]:
    stmt = (
        select(HospitalKey)
        .where(HospitalKey.hospital_id == hospital_id)
        .order_by(HospitalKey.version.desc())
    )
    return (await session.scalars(stmt)).all()


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A hospital key row as stored (the private key still sealed under the master keyring)."""

    id: str
    hospital_id: str
    version: int
    private_key_sealed: bytes


# Key rows by id, for the process: a row is never changed once written (rotation adds a new
# one), so what was read once is read again only at a cost (a select in every transaction that
# opens or lists a handoff: two per round trip). Bounded: the oldest entries go first.
_STORED: OrderedDict[str, StoredKey] = OrderedDict()
_STORED_MAX = 4096
_K = TypeVar("_K")
_V = TypeVar("_V")


def _keep(cache: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    """`value` kept in one of this module's process caches, the oldest entries going first
    beyond `_STORED_MAX` (each of the four is bounded alike)."""
    cache[key] = value
    while len(cache) > _STORED_MAX:
        cache.popitem(last=False)


def _remember(row: HospitalKey) -> StoredKey:
    stored = StoredKey(row.id, row.hospital_id, row.version, row.private_key_sealed)
    _keep(_STORED, row.id, stored)
    return stored


# Hospital private keys opened (from under the master keyring) and loaded for unwrapping, by key
# id: the send and the acknowledgement of every handoff each opened and loaded its hospital's key
# afresh, and loading one derives its public key (together ~1.5 % of the round trip's loop CPU,
# issue #16 item 2). What is kept is what `_STORED` keeps, opened: the process holds the master
# keys that open them anyway, and nothing of it is stored or logged. Keyed by id and the sealed
# bytes, so a row read anew that differs is opened anew. Bounded as `_STORED` is.
_OPENED: OrderedDict[tuple[str, bytes], sealing.OpenedPrivateKey] = OrderedDict()


def _opened(keyring: Keyring, key: StoredKey) -> sealing.OpenedPrivateKey:
    cache_key = (key.id, key.private_key_sealed)
    opened = _OPENED.get(cache_key)
    if opened is None:
        raw = keyring.open(key.private_key_sealed, aad=_key_aad(key.id))
        opened = sealing.OpenedPrivateKey.load(raw)
        _keep(_OPENED, cache_key, opened)
    return opened


async def hospital_key(session: AsyncSession, key_id: str) -> StoredKey | None:
    """The key row, read from the database once per process (see `_STORED`)."""
    stored = _STORED.get(key_id)
    if stored is None:
        row = await session.get(HospitalKey, key_id)
        if row is None:
            return None
        stored = _remember(row)
    return stored


# Data keys unwrapped, by (handoff, wrapped key), for the process: the send and the
# acknowledgement of every handoff each unwrapped the key its create had just sealed it with, an
# X25519 exchange each (~1 % of the round trip's loop CPU, issue #16 item 2). What is kept is no
# more than `_OPENED` reaches already (the hospital private keys that unwrap any of them), never
# stored or logged. Keyed by the wrapped key too: a redirect reseals the handoff under a new one.
# Bounded as `_STORED` is.
_DATA_KEYS: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()


def _keep_data_key(handoff: Handoff, data_key: bytes) -> None:
    _keep(_DATA_KEYS, (handoff.id, handoff.wrapped_key), data_key)


async def handoff_data_key(session: AsyncSession, keyring: Keyring, handoff: Handoff) -> bytes:
    known = _DATA_KEYS.get((handoff.id, handoff.wrapped_key))
    if known is not None:
        return known
    key = await hospital_key(session, handoff.key_id)
    if key is None:
        raise NotFound(f"the key handoff {handoff.id} was sealed with is missing")
    data_key = sealing.unwrap_data_key(
        handoff.wrapped_key, hospital_private=_opened(keyring, key), context=_context(handoff.id)
    )
    _keep_data_key(handoff, data_key)
    return data_key


def remember_data_key(session: AsyncSession, handoff: Handoff, data_key: bytes) -> None:
    """The data key this transaction sealed the handoff with: opening it again (the draft a
    create returns, its send, its acknowledgement) unwraps nothing (an X25519 exchange, and on a
    hospital's first handoff a select of its key row)."""
    _keep_data_key(handoff, data_key)


_CONTENT = "handoffs_opened_content"  # session.info: opened content by (handoff, sealed bytes)


def open_content(session: AsyncSession, data_key: bytes, handoff: Handoff) -> dict[str, Any]:
    """The handoff's sealed body (content, crew, NEWS2), opened once per transaction: a send
    opened it to check the ATMIST rules and again to render the hospital's feed entry. Scoped to
    the session, so opened content does not outlive its request. Read-only to callers."""
    memo: dict[tuple[str, bytes], dict[str, Any]] = session.info.setdefault(_CONTENT, {})
    body = memo.get((handoff.id, handoff.content_sealed))
    if body is None:
        body = open_json(data_key, handoff.content_sealed, part_aad(handoff.id, "content"))
        memo[(handoff.id, handoff.content_sealed)] = body
    return body


def remember_content(session: AsyncSession, handoff: Handoff, body: dict[str, Any]) -> None:
    """The body this transaction just sealed into `handoff.content_sealed`, JSON values only
    (so it is what opening it would give): the draft a create returns opens nothing."""
    memo: dict[tuple[str, bytes], dict[str, Any]] = session.info.setdefault(_CONTENT, {})
    memo[(handoff.id, handoff.content_sealed)] = body


def _context(handoff_id: str) -> bytes:
    return f"handoff:{handoff_id}".encode()


def part_aad(handoff_id: str, part: str) -> bytes:
    return f"handoff:{handoff_id}:{part}".encode()


def seal_json(data_key: bytes, value: Any, aad: bytes) -> bytes:
    return sealing.seal(data_key, json.dumps(value, default=str).encode(), aad=aad)


def open_json(data_key: bytes, sealed: bytes, aad: bytes) -> Any:
    return json.loads(sealing.open_sealed(data_key, sealed, aad=aad))


async def seal_new(
    session: AsyncSession,
    keyring: Keyring,
    handoff_id: str,
    hospital_id: str,
    actor: str,
    now: datetime,
) -> tuple[HospitalKey, bytes, bytes]:
    key = await ensure_hospital_key(
        session=session, keyring=keyring, hospital_id=hospital_id, actor=actor, now=now
    )
    return key, *seal_for(key.public_key, handoff_id)


def seal_for(public_key: bytes, handoff_id: str) -> tuple[bytes, bytes]:
    """A fresh data key for the handoff and that key wrapped for the hospital's public key."""
    data_key = sealing.new_data_key()
    wrapped = sealing.wrap_data_key(
        data_key, hospital_public=public_key, context=_context(handoff_id)
    )
    return data_key, wrapped


async def reseal_children(
    session: AsyncSession, handoff: Handoff, *, old_key: bytes, new_key: bytes
) -> None:
    for row in (
        await session.scalars(select(HandoffUpdate).where(HandoffUpdate.handoff_id == handoff.id))
    ).all():
        if row.payload_sealed is not None:
            aad = part_aad(handoff.id, f"update:{row.seq}")
            row.payload_sealed = sealing.seal(
                new_key, sealing.open_sealed(old_key, row.payload_sealed, aad=aad), aad=aad
            )
    for att in (
        await session.scalars(
            select(HandoffAttachment).where(HandoffAttachment.handoff_id == handoff.id)
        )
    ).all():
        aad = part_aad(handoff.id, f"attachment:{att.id}")
        att.content_sealed = sealing.seal(
            new_key, sealing.open_sealed(old_key, att.content_sealed, aad=aad), aad=aad
        )
        if att.name_sealed is not None:
            name_aad = part_aad(handoff.id, f"attachment:{att.id}:name")
            att.name_sealed = sealing.seal(
                new_key, sealing.open_sealed(old_key, att.name_sealed, aad=name_aad), aad=name_aad
            )
