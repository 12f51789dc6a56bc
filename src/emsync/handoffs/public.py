"""What other domains may read of a handoff, inside their own transaction.

`arrival_record`: the handoff as its receiving hospital sees it (content, the clinical picture
merged with updates, latest signs), for the intake agents when the patient arrives. Not
re-exported from the package `__init__` (it loads SQLAlchemy).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.handoffs.reads import Viewer, load_handoff, read_handoff
from emsync.handoffs.schemas import HandoffRead


async def arrival_record(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str
) -> HandoffRead:
    """NotFound when there is no such handoff."""
    handoff = await load_handoff(session, handoff_id)
    return await read_handoff(session, keyring, handoff, Viewer.hospital(handoff.hospital_id))


__all__ = ["HandoffRead", "arrival_record"]
