"""A handoff's photos and ECGs in its FHIR Bundle: one DocumentReference each (pure).

The file itself is not inlined (a 10 MB photo would swell every export): the attachment's `url`
is the hub's own authenticated route for it, relative to the API, with its media type, size and
name, so a receiving system fetches it with the same credentials it used for the Bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from emsync.handoffs.fhir_codes import LOINC, coding, uid, when

# LOINC 11524-6 "EKG study"; a photo has no single document code, so it is named in text only.
_ECG_TYPE = {"coding": [coding(LOINC, "11524-6", "EKG study")], "text": "ECG"}
_PHOTO_TYPE = {"text": "Photograph"}


def document_references(
    handoff_id: str, attachments: Sequence[Mapping[str, Any]], context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`attachments` as `schemas.AttachmentRead` dumps; `context` holds subject and encounter."""
    out = []
    for att in attachments:
        created = when(att["created_at"])
        attachment: dict[str, Any] = {
            "contentType": att["media_type"],
            "url": f"/api/handoffs/{handoff_id}/attachments/{att['id']}",
            "size": att["size"],
            "creation": created,
        }
        if att.get("name"):
            attachment["title"] = att["name"]
        out.append(
            {
                "resourceType": "DocumentReference",
                "id": uid(handoff_id, f"attachment/{att['id']}"),
                "status": "current",
                "type": _ECG_TYPE if att["kind"] == "ecg" else _PHOTO_TYPE,
                "subject": context["subject"],
                "date": created,
                "content": [{"attachment": attachment}],
                "context": {"encounter": [context["encounter"]]},
            }
        )
    return out
