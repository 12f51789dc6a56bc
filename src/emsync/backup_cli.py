"""`emsync backup`: create, restore and show database backups (deferred from emsync.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emsync.cli import audit_verify, console, load_settings

backup_app = typer.Typer(
    help="Backups of the database; the master keyring only sealed under a passphrase.",
    no_args_is_help=True,
)


def _passphrase(file: Path | None, *, confirm: bool) -> str:
    if file is not None:
        return file.read_text().removesuffix("\n")
    value: str = typer.prompt("keyring passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


@backup_app.command("create")
def backup_create(
    output: Annotated[Path, typer.Argument(help="archive to write (must not exist)")],
    include_keys: Annotated[
        bool, typer.Option(help="seal the master keyring into the archive under a passphrase")
    ] = False,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="file holding the passphrase (else prompted)")
    ] = None,
) -> None:
    """Back up the database (SQLite online backup, or pg_dump) with its manifest."""
    from emsync.core.backup import BackupError, create_backup

    settings = load_settings()
    passphrase = _passphrase(passphrase_file, confirm=True) if include_keys else None
    try:
        manifest = create_backup(settings=settings, output=output, passphrase=passphrase)
    except BackupError as exc:
        console.print(f"[red]backup failed:[/red] {exc}")
        raise typer.Exit(1) from None
    rows = sum(manifest.tables.values())
    console.print(
        f"[green]backup written[/green] to {output} (mode 0600): {manifest.backend}, "
        f"{len(manifest.tables)} tables, {rows} rows, sha256 {manifest.database_sha256[:16]}…"
    )
    if not include_keys:
        console.print(
            "the master keyring is NOT in it: keep the keyring (key ids "
            f"{', '.join(manifest.keyring.fingerprints)}) safe and apart from the backups"
        )


@backup_app.command("restore")
def backup_restore(
    archive: Annotated[Path, typer.Argument(help="archive made by `emsync backup create`")],
    keys_out: Annotated[
        Path | None,
        typer.Option(help="unseal the archive's keyring (passphrase) into this new 0600 file"),
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="file holding the passphrase")
    ] = None,
    force: Annotated[bool, typer.Option(help="restore over a database that is not empty")] = False,
) -> None:
    """Restore into the configured database (EMsync stopped), then check it table by table."""
    from emsync.core.backup import BackupError, restore_backup

    settings = load_settings()
    passphrase = _passphrase(passphrase_file, confirm=False) if keys_out is not None else None
    try:
        manifest = restore_backup(
            settings=settings,
            archive=archive,
            passphrase=passphrase,
            keys_out=keys_out,
            force=force,
        )
    except BackupError as exc:
        console.print(f"[red]restore refused:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]restored[/green] {len(manifest.tables)} tables, "
        f"{sum(manifest.tables.values())} rows, each count as in the backup"
    )
    if keys_out is not None:
        console.print(f"keyring written to {keys_out}: set EMSYNC_SECURITY__MASTER_KEY_FILE to it")
    audit_verify()


@backup_app.command("show")
def backup_show(archive: Path) -> None:
    """Print an archive's manifest (no keys in it)."""
    import dataclasses
    import json

    from emsync.core.backup import read_manifest

    console.print_json(json.dumps(dataclasses.asdict(read_manifest(archive))))
