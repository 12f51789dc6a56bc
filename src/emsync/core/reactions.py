"""The shape of the system's two wiring tables, and their registration.

The tables themselves are in `emsync.bootstrap` (`REACTIONS`, `CHANNELS`): one row per reaction
of a domain to an event, one row per WebSocket channel. A reaction is a typed function in the
reacting domain's `handlers.py` that takes the runtime and the event's class:

    async def draft_on_destination(runtime: Runtime, event: DestinationChosen) -> None: ...

or, for a reaction that must commit with its cause (`Stage.IN_TRANSACTION`):

    async def page_on_alert(
        runtime: Runtime, session: AsyncSession, event: AlertChanged
    ) -> Sequence[Event]: ...

Rows of one event run in table order (after the channel forwards of that event, and after its
`Delivery.LOCAL` rows), so a reaction whose effect another relies on (where a patient is going,
before the hospital is told) comes first.

After-commit reactions are durable by default (`Delivery.DURABLE`, docs/durable-events.md): the
event is written to the outbox with its cause, and the reaction runs once per event, also after
a crash, in the process the transport picks (in-process: the one that committed; RabbitMQ: a
worker). `Delivery.LOCAL` is for reactions about this process itself (a cache to forget, a
counter, waking a local loop): they run in the committing process right after the commit.
`docs/architecture.md` shows both tables (`flows_markdown`), checked by a test.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.events import Event
from emsync.core.realtime import ChannelCheck, Hub
from emsync.core.runtime import Runtime

AfterCommit = Callable[[Runtime, Any], Awaitable[None]]
InTransaction = Callable[[Runtime, AsyncSession, Any], Awaitable[Sequence[Event]]]
ControlHandler = Callable[[Runtime, str, Any], None]


class Stage(enum.Enum):
    # After the cause commits; a failure is retried with backoff (settings.events: attempts,
    # backoff), then dead-lettered (logged, counted, stored in event_dead_letters).
    AFTER_COMMIT = "after commit"
    # In the cause's transaction, in a savepoint: committed with the cause or not at all; a
    # failure is rolled back alone and dead-lettered (not retried), and the cause still commits.
    # With `isolated=False` (`on(...)`): no savepoint, and a failure fails the cause.
    IN_TRANSACTION = "in transaction"


class Delivery(enum.Enum):
    # Through the outbox and the transport, once per event (delivery records), also after a
    # crash; dead letters are stored and retried by a person.
    DURABLE = "durable"
    # In the committing process right after the commit; lost if it crashes in between.
    LOCAL = "local"


DURABLE_POLICY = "after commit, durable: once per event via the outbox; retried, then dead-lettered"
LOCAL_POLICY = "after commit, in this process only; retried, then dead-lettered"
IN_TRANSACTION_POLICY = (
    "before commit, in the cause's transaction; a failure rolls back alone, dead-lettered"
)
WITH_CAUSE_POLICY = (
    "before commit, in the cause's transaction, no savepoint; a failure fails the cause"
)


@dataclass(frozen=True, slots=True)
class Reaction:
    events: tuple[type[Event], ...]
    handler: Callable[..., Awaitable[Any]]
    stage: Stage = Stage.AFTER_COMMIT
    attempts: int | None = None  # after commit; None: settings.events.handler_attempts
    delivery: Delivery = Delivery.DURABLE  # after commit
    # In transaction: in a savepoint of its own. False where the cause must not commit without
    # this reaction's writes (its failure fails the cause), which saves the SAVEPOINT and the
    # RELEASE: two statements each time it runs.
    isolated: bool = True
    # In transaction: run only for the events this accepts, asked before the savepoint.
    when: Callable[[Any], bool] | None = None

    @property
    def policy(self) -> str:
        if self.stage is Stage.IN_TRANSACTION:
            return IN_TRANSACTION_POLICY if self.isolated else WITH_CAUSE_POLICY
        policy = DURABLE_POLICY if self.delivery is Delivery.DURABLE else LOCAL_POLICY
        if self.attempts is None:
            return policy
        return policy.replace("retried,", f"{self.attempts} attempts,")


def on(
    *events: type[Event],
    run: Callable[..., Awaitable[Any]],
    stage: Stage = Stage.AFTER_COMMIT,
    attempts: int | None = None,
    delivery: Delivery = Delivery.DURABLE,
    isolated: bool = True,
    when: Callable[[Any], bool] | None = None,
) -> Reaction:
    """One row of the reaction table: `events` (each dispatched on its exact class) → `run`."""
    if not isolated and stage is not Stage.IN_TRANSACTION:
        raise ValueError("only a reaction in the cause's transaction can fail its cause")
    if when is not None and stage is not Stage.IN_TRANSACTION:
        raise ValueError("only a reaction in the cause's transaction takes `when`")
    return Reaction(
        events=events,
        handler=run,
        stage=stage,
        attempts=attempts,
        delivery=delivery,
        isolated=isolated,
        when=when,
    )


@dataclass(frozen=True, slots=True)
class Channel:
    """A WebSocket channel (`name` or `name:<arg>`) and who may subscribe to it."""

    name: str
    may_subscribe: ChannelCheck | None  # None: between processes only (`control`)
    # Events pushed as they are: {"type": event.name, "data": event.to_dict()}.
    forwards: tuple[type[Event], ...] = ()
    # Pushed by these instead (their own payload), for the reader of the table.
    pushed_by: tuple[str, ...] = ()
    control: ControlHandler | None = None
    # The pushed messages' schemas by message type, exported with the
    # forwarded events' into the OpenAPI components so the browser's types are generated.
    messages: tuple[tuple[str, type[BaseModel]], ...] = ()

    def message_schemas(self) -> dict[str, type[Any]]:
        """Message type -> the class whose schema its `data` has."""
        return {**{kind.name: kind for kind in self.forwards}, **dict(self.messages)}


def handler_name(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", "?").removeprefix("emsync.")
    return f"{module}.{getattr(handler, '__qualname__', repr(handler))}"


def _after_commit(runtime: Runtime, handler: AfterCommit) -> Callable[[Any], Awaitable[None]]:
    async def react(event: Any) -> None:
        await handler(runtime, event)

    react.__qualname__ = handler.__qualname__  # what a dead letter names
    return react


def _in_transaction(
    runtime: Runtime, handler: InTransaction
) -> Callable[[AsyncSession, Any], Awaitable[Sequence[Event]]]:
    async def react(session: AsyncSession, event: Any) -> Sequence[Event]:
        return await handler(runtime, session, event)

    react.__qualname__ = handler.__qualname__
    return react


def _forward(hub: Hub, channel: str) -> Callable[[Event], Awaitable[None]]:
    async def forward(event: Event) -> None:
        hub.publish(channel, event.name, event.to_dict())

    forward.__qualname__ = f"forward:{channel}"
    return forward


def _control(runtime: Runtime, handler: ControlHandler) -> Callable[[str, Any], None]:
    def apply(type_: str, data: Any) -> None:
        handler(runtime, type_, data)

    return apply


def register(runtime: Runtime, reactions: Iterable[Reaction], channels: Iterable[Channel]) -> None:
    """Channels (and their forwards) first, then the reactions, each event's in table order."""
    hub, bus = runtime.get(Hub), runtime.bus
    for channel in channels:
        if channel.control is not None:
            hub.register_control(channel.name, _control(runtime, channel.control))
        elif channel.may_subscribe is not None:
            hub.register_channel(channel.name, channel.may_subscribe)
        forward = _forward(hub, channel.name)
        for kind in channel.forwards:
            bus.subscribe(kind, forward, name=f"push:{channel.name}")
    for reaction in reactions:
        for kind in reaction.events:
            name = handler_name(reaction.handler)
            if reaction.stage is Stage.IN_TRANSACTION:
                bus.subscribe_in_transaction(
                    kind,
                    _in_transaction(runtime, reaction.handler),
                    name=name,
                    isolated=reaction.isolated,
                    when=reaction.when,
                )
            else:
                bus.subscribe(
                    kind,
                    _after_commit(runtime, reaction.handler),
                    attempts=reaction.attempts,
                    durable=reaction.delivery is Delivery.DURABLE,
                    name=name,
                )


def flows_markdown(reactions: Sequence[Reaction], channels: Sequence[Channel]) -> str:
    """Both tables as Markdown, every event with its reactions in the order they run (those in
    the cause's transaction first: they run before it commits)."""
    lines = [
        "| event | reaction (in order) | stage and failure policy |",
        "|---|---|---|",
    ]
    by_event: dict[str, list[tuple[str, str]]] = {}
    for reaction in reactions:
        if reaction.stage is Stage.IN_TRANSACTION:
            for kind in reaction.events:
                row = (f"`{handler_name(reaction.handler)}`", reaction.policy)
                by_event.setdefault(kind.name, []).append(row)
    for channel in channels:
        for kind in channel.forwards:
            row = (f"push to `{channel.name}`", LOCAL_POLICY)
            by_event.setdefault(kind.name, []).append(row)
    after_commit = [r for r in reactions if r.stage is Stage.AFTER_COMMIT]
    local = [r for r in after_commit if r.delivery is Delivery.LOCAL]
    for reaction in (*local, *(r for r in after_commit if r.delivery is Delivery.DURABLE)):
        for kind in reaction.events:
            row = (f"`{handler_name(reaction.handler)}`", reaction.policy)
            by_event.setdefault(kind.name, []).append(row)
    for event_name in sorted(by_event):
        for n, (handler, policy) in enumerate(by_event[event_name]):
            lines.append(f"| {f'`{event_name}`' if n == 0 else ''} | {handler} | {policy} |")
    lines += ["", "| channel | who may subscribe | pushed |", "|---|---|---|"]
    for channel in channels:
        if channel.control is not None:
            who = f"no client: between processes, applied by `{handler_name(channel.control)}`"
        else:
            who = _describe_check(channel.may_subscribe)
        pushed = [f"`{kind.name}`" for kind in channel.forwards]
        pushed += [f"by `{name}`" for name in channel.pushed_by]
        lines.append(f"| `{channel.name}` | {who} | {', '.join(pushed) or '-'} |")
    return "\n".join(lines) + "\n"


def _describe_check(check: ChannelCheck | None) -> str:
    if check is None:
        return "nobody"
    permission = getattr(check, "permission", None)
    if permission is not None:
        return f"`{getattr(permission, 'value', permission)}`"
    why = " ".join((check.__doc__ or "").split())
    return f"`{handler_name(check)}`: {why}"


_REF = "#/components/schemas/{model}"


def document_channels(app: FastAPI, channels: Sequence[Channel]) -> None:
    """Every WebSocket message's schema in the OpenAPI components (beside the REST schemas they
    share), and `x-websocket`: channel -> message type -> schema, for the generated types."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            wire: dict[str, dict[str, dict[str, str]]] = {}
            for channel in channels:
                for type_, cls in channel.message_schemas().items():
                    found = TypeAdapter(cls).json_schema(ref_template=_REF, mode="serialization")
                    for name, part in {**found.pop("$defs", {}), cls.__name__: found}.items():
                        # A REST schema of the same model stays as FastAPI wrote it; only two
                        # different shapes under one name would be an error.
                        known = components.setdefault(name, part)
                        if set(known.get("properties", ())) != set(part.get("properties", ())):
                            raise RuntimeError(f"two different schemas are named {name}")
                    wire.setdefault(channel.name, {})[type_] = {
                        "$ref": _REF.format(model=cls.__name__)
                    }
            schema["x-websocket"] = wire
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
