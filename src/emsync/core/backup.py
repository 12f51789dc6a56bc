"""`emsync backup create|restore`: the database in one archive, with what proves it whole.

An archive (a tar file, mode 0600) holds `manifest.json` (backend, schema heads, every table's
row count, the dump's SHA-256, the master keyring's key ids and fingerprints) and the dump:
SQLite through its online backup API (a consistent copy while EMsync runs), PostgreSQL through
`pg_dump --format=custom` on a snapshot exported from the transaction that counted the rows, so
the counts are those of the dump.

The keyring. Personal data in the dump is sealed under the master keyring, so a backup without
its keys is useless, and one with them in clear would hand over every patient's data. By default
the keys stay out and the manifest records which keys (ids and fingerprints, not the keys) the
data needs; restore refuses to run unless the configured keyring has them. `--include-keys`
seals the keyring into the archive under a passphrase (scrypt, then AES-256-GCM bound to this
dump's hash); restore unseals it to a new 0600 file only with that passphrase.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.engine import URL, make_url

from emsync.core.crypto import Keyring, KeyringError
from emsync.core.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SEALED_KEYRING = "keyring.sealed"
MIN_PASSPHRASE = 12
# scrypt at 2**17 x 8: 128 MiB and about half a second per try (RFC 7914's interactive-plus).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
_FINGERPRINT_LABEL = b"emsync keyring fingerprint v1"


class BackupError(Exception):
    """Why a backup cannot be made or restored; nothing was changed."""


@dataclass(frozen=True, slots=True)
class KeyringInfo:
    fingerprints: dict[str, str]  # key id -> HMAC-SHA256(key, label), hex, first 16 bytes
    included: bool
    scrypt: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    created_at: str
    backend: str
    database_file: str
    database_sha256: str
    schema_heads: list[str]
    tables: dict[str, int]
    keyring: KeyringInfo
    emsync_version: str = field(default="")

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {raw.get('format')!r}")
        raw["keyring"] = KeyringInfo(**raw["keyring"])
        return cls(**raw)


def fingerprints(keyring: Keyring) -> dict[str, str]:
    return {
        str(key_id): hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:32]
        for key_id, key in sorted(keyring.keys.items())
    }


def _scrypt(passphrase: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode())


def seal_keyring(
    keyring: Keyring, passphrase: str, *, bound_to: str
) -> tuple[bytes, dict[str, Any]]:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_scrypt(passphrase, salt)).encrypt(
        nonce, keyring.to_json().encode(), bound_to.encode()
    )
    params = {"n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": base64.b64encode(salt).decode()}
    return nonce + sealed, params


def unseal_keyring(blob: bytes, passphrase: str, manifest: Manifest) -> Keyring:
    params = manifest.keyring.scrypt or {}
    salt = base64.b64decode(params["salt"])
    kdf = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"])
    try:
        plain = AESGCM(kdf.derive(passphrase.encode())).decrypt(
            blob[:12], blob[12:], manifest.database_sha256.encode()
        )
    except Exception as exc:  # InvalidTag: wrong passphrase or a tampered archive
        raise BackupError("the passphrase does not open this backup's keyring") from exc
    return Keyring.from_json(plain.decode())


# ---------------------------------------------------------------- databases


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}  # noqa: S608 - names from sqlite_master


def _sqlite_heads(conn: sqlite3.Connection) -> list[str]:
    try:
        return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.OperationalError:
        return []


def _dump_sqlite(source: Path, target: Path) -> tuple[dict[str, int], list[str]]:
    if not source.exists():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a consistent snapshot even while EMsync writes
        return _sqlite_tables(dst), _sqlite_heads(dst)
    finally:
        dst.close()
        src.close()


def _libpq_env(url: URL) -> dict[str, str]:
    """The database's connection for pg_dump/pg_restore, in the environment (never argv)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGHOST"] = url.host or "localhost"
    env["PGPORT"] = str(url.port or 5432)
    env["PGDATABASE"] = url.database or ""
    if url.username:
        env["PGUSER"] = url.username
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    ssl = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require"}.get(ssl, ssl)
    return env


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


_PG_TABLES = (
    "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"
)


async def _pg_tables(conn: asyncpg.Connection) -> dict[str, int]:
    names = [r[0] for r in await conn.fetch(_PG_TABLES)]
    return {n: int(await conn.fetchval(f'SELECT count(*) FROM "{n}"')) for n in names}  # noqa: S608 - names from pg_class


async def _pg_heads(conn: asyncpg.Connection) -> list[str]:
    try:
        return sorted(r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version"))
    except asyncpg.UndefinedTableError:
        return []


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not installed (Debian: postgresql-client)")
    return path


async def _dump_postgresql(url: URL, target: Path) -> tuple[dict[str, int], list[str]]:
    pg_dump = _require("pg_dump")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            tables = await _pg_tables(conn)
            heads = await _pg_heads(conn)
            # pg_dump reads the same snapshot, so the counts are the dump's.
            process = await asyncio.create_subprocess_exec(
                pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                f"--snapshot={snapshot}", f"--file={target}",
                env=_libpq_env(url), stderr=subprocess.PIPE,
            )  # fmt: skip
            _, err = await process.communicate()
            if process.returncode != 0:
                raise BackupError(f"pg_dump failed: {err.decode(errors='replace')[-2000:]}")
    finally:
        await conn.close()
    return tables, heads


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- archive


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="emsync-backup-") as tmp:
        os.chmod(tmp, 0o700)
        yield Path(tmp)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def create_backup(*, settings: Settings, output: Path, passphrase: str | None = None) -> Manifest:
    """Write the archive to `output` (refused if it exists); keys sealed in it with a passphrase."""
    keyring = Keyring.from_settings(settings)
    if output.exists():
        raise BackupError(f"{output} exists; choose a new file")
    with _workdir() as work:
        sqlite = _sqlite_path(settings)
        if sqlite is not None:
            dump = work / "database.sqlite"
            tables, heads = _dump_sqlite(sqlite, dump)
            backend = "sqlite"
        else:
            dump = work / "database.pgdump"
            url = make_url(settings.database_url)
            tables, heads = asyncio.run(_dump_postgresql(url, dump))
            backend = "postgresql"
        digest = _sha256(dump)
        sealed: bytes | None = None
        params = None
        if passphrase is not None:
            sealed, params = seal_keyring(keyring, passphrase, bound_to=digest)
        from emsync import __version__

        manifest = Manifest(
            format=FORMAT,
            created_at=datetime.now(UTC).isoformat(),
            backend=backend,
            database_file=dump.name,
            database_sha256=digest,
            schema_heads=heads,
            tables=tables,
            keyring=KeyringInfo(
                fingerprints=fingerprints(keyring), included=sealed is not None, scrypt=params
            ),
            emsync_version=__version__,
        )
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(asdict(manifest), indent=1).encode())
            tar.add(dump, arcname=dump.name)
            if sealed is not None:
                _add_bytes(tar, SEALED_KEYRING, sealed)
    return manifest


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise BackupError(f"{archive} has no {MANIFEST}")
        return Manifest.from_json(member.read().decode())


def _check_keyring(manifest: Manifest, keyring: Keyring) -> None:
    have = fingerprints(keyring)
    missing = [k for k, f in manifest.keyring.fingerprints.items() if have.get(k) != f]
    if missing:
        raise BackupError(
            f"the configured master keyring lacks key(s) {', '.join(missing)} that sealed this "
            "backup's data; restored, it would be unreadable. Configure that keyring, or restore "
            "its sealed copy with --keys-out (backups made with --include-keys)"
        )


def _write_new(path: Path, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)


async def _restore_postgresql(url: URL, dump: Path, *, force: bool) -> dict[str, int]:
    pg_restore = _require("pg_restore")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        if await conn.fetch(_PG_TABLES) and not force:
            raise BackupError(
                f"database {url.database} is not empty; restore into a new database, or --force"
            )
    finally:
        await conn.close()
    process = await asyncio.create_subprocess_exec(
        pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
        "--exit-on-error", "--single-transaction", f"--dbname={url.database}", str(dump),
        env=_libpq_env(url), stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"pg_restore failed: {err.decode(errors='replace')[-2000:]}")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return await _pg_tables(conn)
    finally:
        await conn.close()


def _restore_sqlite(target: Path, dump: Path, *, force: bool) -> dict[str, int]:
    if target.exists() and target.stat().st_size > 0 and not force:
        raise BackupError(f"{target} exists; move it away (EMsync stopped), or --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        return _sqlite_tables(dst)
    finally:
        dst.close()
        src.close()


def restore_backup(
    *,
    settings: Settings,
    archive: Path,
    passphrase: str | None = None,
    keys_out: Path | None = None,
    force: bool = False,
) -> Manifest:
    """Restore into the configured database (empty unless `force`), after checking the dump's
    hash and that its keys are at hand; then check every table's row count."""
    manifest = read_manifest(archive)
    if keys_out is not None and keys_out.exists():
        raise BackupError(f"{keys_out} exists; choose a new file for the keyring")
    with _workdir() as work, tarfile.open(archive, "r:gz") as tar:
        tar.extract(manifest.database_file, work, filter="data")
        dump = work / manifest.database_file
        if _sha256(dump) != manifest.database_sha256:
            raise BackupError("the dump does not match its manifest's SHA-256: damaged archive")
        if keys_out is not None:
            if not manifest.keyring.included:
                raise BackupError("this backup was made without --include-keys")
            if passphrase is None:
                raise BackupError("a passphrase is needed to unseal the keyring")
            sealed = tar.extractfile(SEALED_KEYRING)
            assert sealed is not None
            keyring = unseal_keyring(sealed.read(), passphrase, manifest)
        else:
            try:
                keyring = Keyring.from_settings(settings)
            except KeyringError as exc:
                raise BackupError(str(exc)) from None
        _check_keyring(manifest, keyring)
        if manifest.backend == "sqlite":
            target = _sqlite_path(settings)
            if target is None:
                raise BackupError("a SQLite backup restores into a SQLite database")
            tables = _restore_sqlite(target, dump, force=force)
        else:
            if _sqlite_path(settings) is not None:
                raise BackupError("a PostgreSQL backup restores into a PostgreSQL database")
            url = make_url(settings.database_url)
            tables = asyncio.run(_restore_postgresql(url, dump, force=force))
        if keys_out is not None:
            _write_new(keys_out, keyring.to_json())
    if tables != manifest.tables:
        differ = sorted(
            t for t in set(tables) | set(manifest.tables) if tables.get(t) != manifest.tables.get(t)
        )
        raise BackupError(f"restored row counts differ from the backup's in: {', '.join(differ)}")
    return manifest
