"""The broker watch's start-up check against what Mosquitto 2.0 sends a late subscriber."""

from __future__ import annotations

from pathlib import Path

from emsync.bootstrap import create_app
from emsync.telemetry.broker_watch import DROPPED_TOPIC, VERSION_TOPIC, BrokerWatch
from tests.conftest import make_settings


def _watch(tmp_path: Path) -> BrokerWatch:
    # No broker configured: the app makes no watch of its own, whose metric this one repeats.
    app = create_app(make_settings("sqlite+aiosqlite://", tmp_path))
    return BrokerWatch(app.state.runtime)


def test_the_version_alone_shows_sys_is_published(tmp_path: Path) -> None:
    """An ingest that starts more than a minute after the broker gets only the version: the
    dropped count expired and comes again only when it changes. That is $SYS working, not
    missing (every ingest restart in a long-running deployment warned that it was)."""
    watch = _watch(tmp_path)
    watch._received(VERSION_TOPIC, "mosquitto version 2.0.11")
    assert watch.sys_seen.is_set()
    assert watch.version == "mosquitto version 2.0.11"
    assert watch.dropped is None


def test_a_dropped_count_alone_is_not_sys_seen(tmp_path: Path) -> None:
    watch = _watch(tmp_path)
    watch._received(DROPPED_TOPIC, "0")
    assert watch.dropped == 0
    assert not watch.sys_seen.is_set()
