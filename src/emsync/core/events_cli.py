"""`emsync events`: the durable events' dead letters, listed and retried by a person
(docs/durable-events.md). Registered in `emsync.cli` as a deferred command group."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from emsync.core.outbox import DeadLetterView
    from emsync.core.settings import Settings

events_app = typer.Typer(
    help="Durable domain events: the outbox and its dead letters.", no_args_is_help=True
)
dead_letters_app = typer.Typer(
    help="Reactions that failed every attempt, kept until a person retries them.",
    no_args_is_help=True,
)
events_app.add_typer(dead_letters_app, name="dead-letters")
console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from pydantic import ValidationError

    from emsync.core.settings import Settings, with_development_secrets

    try:
        return with_development_secrets(Settings())
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}", markup=True)
        raise typer.Exit(2) from None


async def _dead_letters(settings: Settings, handler: str | None) -> list[DeadLetterView]:
    from emsync.core import outbox
    from emsync.core.db import create_engine, session_factory

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return await outbox.dead_letters(session, handler=handler)
    finally:
        await engine.dispose()


async def _request_retry(settings: Settings, ids: list[int] | None) -> list[int]:
    from emsync.core import outbox
    from emsync.core.db import create_engine, session_factory

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            marked = await outbox.request_retry(session, ids)
            await session.commit()
            return marked
    finally:
        await engine.dispose()


@dead_letters_app.command("list")
def dead_letters_list(
    handler: Annotated[
        str | None,
        typer.Option(help="only this reaction, e.g. handoffs.handlers.draft_on_destination"),
    ] = None,
) -> None:
    """Dead letters nobody has retried successfully yet, oldest first (no event content: the
    payloads are sealed)."""
    letters = asyncio.run(_dead_letters(_settings(), handler))
    out = Console(soft_wrap=True, highlight=False)
    if not letters:
        out.print("no dead letters")
        return
    for d in letters:
        retry = "  [retry requested]" if d.retry_requested_at else ""
        out.print(
            f"#{d.id}  {d.event_type} -> {d.handler}  ({d.stage}, {d.attempts} attempts, "
            f"first {d.first_failed_at.isoformat(timespec='seconds')}, "
            f"last {d.last_failed_at.isoformat(timespec='seconds')}){retry}",
            markup=False,
        )
        out.print(f"    {d.error}  event {d.event_id}", markup=False)
    out.print(f"{len(letters)} dead letter(s); retry: emsync events dead-letters retry ID|--all")


@dead_letters_app.command("retry")
def dead_letters_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="dead letter ids (from `list`)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every unresolved dead letter")] = False,
) -> None:
    """Re-deliver dead letters to their reaction: a running EMsync (its worker role) picks them
    up within `EMSYNC_EVENTS__RELAY_POLL_SECONDS`; one that fails again stays listed."""
    if bool(ids) == all_:
        console.print("[red]name dead letter ids or --all (not both)[/red]")
        raise typer.Exit(2)
    marked = asyncio.run(_request_retry(_settings(), None if all_ else list(ids or [])))
    missing = sorted(set(ids or []) - set(marked))
    if missing:
        console.print(
            f"[red]no unresolved dead letter with id {', '.join(map(str, missing))}[/red]"
        )
    console.print(f"{len(marked)} dead letter(s) queued for retry")
    if missing:
        raise typer.Exit(1)
