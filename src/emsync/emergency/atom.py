"""The Atom feed (RFC 4287) of active public alerts (pure), as CAP aggregators read it: one
entry per alert, linking its CAP 1.2 XML (`rel="alternate"`, `type="application/cap+xml"`).

Written with lxml: feedgen 1.0.0 drops an entry link's `rel` and `type` (its `atom_entry`
rebinds the loop variable to the new element before reading them), and the CAP link's type is
what aggregators look for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from emsync.emergency.cap import CAP_MEDIA_TYPE, cap_time, xml_safe

NS = "http://www.w3.org/2005/Atom"
_A = f"{{{NS}}}"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    identifier: str
    title: str
    summary: str
    sent: datetime
    cap_url: str
    severity: str
    msg_type: str


def _text(parent: etree._Element, name: str, value: str, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, _A + name, attrs)
    node.text = xml_safe(value)
    return node


def atom_feed(
    entries: Sequence[FeedEntry], *, feed_url: str, sender_name: str, updated: datetime
) -> bytes:
    root = etree.Element(_A + "feed", nsmap={None: NS})
    _text(root, "id", feed_url)
    _text(root, "title", f"{sender_name}: active public alerts")
    _text(root, "updated", cap_time(max([updated, *(e.sent for e in entries)])))
    author = etree.SubElement(root, _A + "author")
    _text(author, "name", sender_name)
    etree.SubElement(
        root, _A + "link", {"href": feed_url, "rel": "self", "type": "application/atom+xml"}
    )
    for e in sorted(entries, key=lambda e: e.sent, reverse=True):
        entry = etree.SubElement(root, _A + "entry")
        _text(entry, "id", f"urn:cap:{e.identifier}")
        _text(entry, "title", e.title)
        _text(entry, "updated", cap_time(e.sent))
        _text(entry, "published", cap_time(e.sent))
        _text(entry, "summary", e.summary or e.title)
        etree.SubElement(entry, _A + "category", {"term": e.severity, "label": "severity"})
        etree.SubElement(entry, _A + "category", {"term": e.msg_type, "label": "message type"})
        etree.SubElement(
            entry, _A + "link", {"href": e.cap_url, "rel": "alternate", "type": CAP_MEDIA_TYPE}
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
