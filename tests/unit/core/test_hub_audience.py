"""A publisher that must read the database to build a push asks the hub first whether anyone
can receive it (Hub.listened): a subscriber here, or any process behind the fan-out."""

from __future__ import annotations

from typing import Any

from emsync.core.realtime import Hub, Subscriber


async def _anyone(_token: str) -> Any:
    return object()


async def _allowed(_principal: Any, _arg: str | None) -> bool:
    return True


async def test_a_channel_is_listened_to_by_its_subscribers_or_through_the_fanout() -> None:
    hub = Hub(_anyone)
    hub.register_channel("incidents", _allowed)
    sub = Subscriber(principal=object())
    assert not hub.listened("incidents", under=True)
    assert await hub.subscribe(sub, "incidents:unit:u1") is None
    assert hub.listened("incidents:unit:u1")
    assert not hub.listened("incidents:unit:u2")
    assert not hub.listened("incidents")
    assert hub.listened("incidents", under=True)
    assert not hub.listened("incident", under=True)  # a prefix of the name is another channel
    hub.unsubscribe_all(sub)
    assert not hub.listened("incidents", under=True)
    hub.forward_to(lambda _message: None)  # other processes may have subscribers
    assert hub.listened("incidents:unit:u2")
