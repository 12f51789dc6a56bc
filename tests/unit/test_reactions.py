"""The table of reactions (emsync.bootstrap.REACTIONS) is the one place every flow is wired, and
each reaction reads only fields its events define: renaming an event's field fails here, not
silently in production (a handoff bridge that stops drafting, an alert that stops paging)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import textwrap
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import emsync
from emsync.bootstrap import CHANNELS, REACTIONS
from emsync.core.events import Event
from emsync.core.reactions import Stage, flows_markdown, handler_name
from emsync.core.runtime import Runtime
from emsync.telemetry.events import AlertChanged, VitalsReceived

PACKAGE = Path(emsync.__file__).parent
DOCS = PACKAGE.parents[1] / "docs" / "architecture.md"
# What every event has besides its fields (Event's own public members).
EVENT_MEMBERS = {"name", "to_dict"}


def event_parameter(handler: Callable[..., Any]) -> tuple[str, tuple[type[Event], ...]]:
    """The handler's last parameter (the event) and the event classes its annotation allows."""
    name = list(inspect.signature(handler).parameters)[-1]
    hint = typing.get_type_hints(handler)[name]
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    classes = tuple(m for m in members if isinstance(m, type) and issubclass(m, Event))
    return name, classes


def allowed(kind: type[Event]) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)} | EVENT_MEMBERS


def field_reads(handler: Callable[..., Any]) -> tuple[set[str], list[str]]:
    """Attributes the handler reads off its event, and its dictionary-style reads of the event
    (`getattr(event, ...)`, `event.to_dict()[...]`, `event.to_dict().get(...)`, `vars(event)`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    param, _ = event_parameter(handler)
    reads: set[str] = set()
    lookups: list[str] = []
    as_dict: set[str] = set()  # names bound to `event.to_dict()`

    def is_event(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == param

    def is_dict_of_event(node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in as_dict
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "to_dict"
            and is_event(node.func.value)
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and is_dict_of_event(node.value):
            as_dict.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_event(node.value):
            reads.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "vars"}
            and node.args
            and is_event(node.args[0])
        ):
            lookups.append(ast.unparse(node))
        if isinstance(node, ast.Subscript) and is_dict_of_event(node.value):
            lookups.append(ast.unparse(node))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and is_dict_of_event(node.func.value)
        ):
            lookups.append(ast.unparse(node))
    return reads, lookups


def problems_of(handler: Callable[..., Any], events: tuple[type[Event], ...]) -> list[str]:
    name = handler_name(handler)
    _, accepted = event_parameter(handler)
    found = [
        f"{name} is registered for {kind.__name__} but takes {[a.__name__ for a in accepted]}"
        for kind in events
        if not any(issubclass(kind, a) for a in accepted)
    ]
    reads, lookups = field_reads(handler)
    for kind in events:
        found += [
            f"{name} reads {kind.__name__}.{attr}, which the event does not define"
            for attr in sorted(reads - allowed(kind))
        ]
    found += [f"{name} looks an event field up by name: {lookup}" for lookup in lookups]
    return found


def handler_modules() -> list[types.ModuleType]:
    return [
        importlib.import_module(f"emsync.{path.parent.name}.handlers")
        for path in sorted(PACKAGE.glob("*/handlers.py"))
    ]


def takes_an_event(function: Callable[..., Any]) -> bool:
    try:
        _, classes = event_parameter(function)
    except (IndexError, KeyError):
        return False
    return bool(classes)


def test_every_reaction_reads_only_fields_its_events_define() -> None:
    found = [p for r in REACTIONS for p in problems_of(r.handler, r.events)]
    assert found == []


def test_every_reaction_in_a_handlers_module_is_in_the_table() -> None:
    # A reaction's `when` predicate takes the event too; it is in the table as that filter.
    in_table = {r.handler for r in REACTIONS} | {r.when for r in REACTIONS if r.when is not None}
    missing = [
        f"{module.__name__}.{name}"
        for module in handler_modules()
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and takes_an_event(function)
        and function not in in_table
    ]
    assert missing == []
    assert len(handler_modules()) >= 8  # the check sees the domains' handlers modules


def test_in_transaction_reactions_take_the_session_and_the_others_do_not() -> None:
    for reaction in REACTIONS:
        parameters = list(inspect.signature(reaction.handler).parameters)
        expected = 3 if reaction.stage is Stage.IN_TRANSACTION else 2
        assert len(parameters) == expected, handler_name(reaction.handler)
        assert typing.get_type_hints(reaction.handler)[parameters[0]] is Runtime


def test_each_channel_is_declared_once_and_clients_cannot_join_a_control_channel() -> None:
    names = [c.name for c in CHANNELS]
    assert len(names) == len(set(names))
    for channel in CHANNELS:
        assert (channel.control is None) == (channel.may_subscribe is not None), channel.name


def test_the_docs_show_every_flow_as_the_table_has_it() -> None:
    assert flows_markdown(REACTIONS, CHANNELS) in DOCS.read_text()


# ---- the checks themselves can fail ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Renamed(Event):
    name: ClassVar[str] = "test.renamed"
    destination_id: str


async def reads_a_field_the_event_lacks(runtime: Runtime, event: Renamed) -> None:
    print(runtime, event.hospital_id)  # type: ignore[attr-defined]


async def looks_fields_up_by_name(runtime: Runtime, event: Renamed) -> None:
    fields = event.to_dict()
    key = "x"
    print(runtime, fields.get("hospital_id") or fields["destination_id"], getattr(event, key))


async def takes_vitals(runtime: Runtime, event: VitalsReceived) -> None:
    print(runtime, event.patient_id)


def test_a_read_of_a_field_the_event_does_not_define_is_caught() -> None:
    assert problems_of(reads_a_field_the_event_lacks, (Renamed,)) == [
        "tests.unit.test_reactions.reads_a_field_the_event_lacks reads Renamed.hospital_id, "
        "which the event does not define"
    ]


def test_a_dictionary_lookup_of_event_fields_is_caught() -> None:
    found = problems_of(looks_fields_up_by_name, (Renamed,))
    assert len(found) == 3
    assert all("looks an event field up by name" in p for p in found)


def test_a_row_whose_event_the_handler_does_not_take_is_caught() -> None:
    assert problems_of(takes_vitals, (AlertChanged,))[0].endswith(
        "is registered for AlertChanged but takes ['VitalsReceived']"
    )
