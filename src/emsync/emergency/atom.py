"""The Atom feed of active public alerts (pure), as CAP aggregators read it: one entry per
alert, linking its CAP 1.2 XML (`rel="alternate"`, `type="application/cap+xml"`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

from emsync.emergency.cap import CAP_MEDIA_TYPE


@dataclass(frozen=True, slots=True)
class FeedEntry:
    identifier: str
    title: str
    summary: str
    sent: datetime
    cap_url: str
    severity: str
    msg_type: str


def atom_feed(
    entries: Sequence[FeedEntry], *, feed_url: str, sender_name: str, updated: datetime
) -> bytes:
    fg = FeedGenerator()
    fg.id(feed_url)
    fg.title(f"{sender_name}: active public alerts")
    fg.author({"name": sender_name})
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.updated(max([updated, *(e.sent for e in entries)]))
    # feedgen prepends: add oldest first so the newest alert leads the document.
    for e in sorted(entries, key=lambda e: e.sent):
        item = fg.add_entry()
        item.id(f"urn:cap:{e.identifier}")
        item.title(e.title)
        item.summary(e.summary or e.title)
        item.updated(e.sent)
        item.published(e.sent)
        item.category(term=e.severity, label=f"severity {e.severity}")
        item.category(term=e.msg_type, label=f"message type {e.msg_type}")
        item.link(href=e.cap_url, rel="alternate", type=CAP_MEDIA_TYPE)
    return bytes(fg.atom_str(pretty=True))
