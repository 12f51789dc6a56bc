"""What other domains may read of handoffs (DESIGN §2: through the owner's public functions)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.crypto import Keyring
from emsync.handoffs.reads import Viewer, get_handoff
from emsync.handoffs.schemas import HandoffRead


def viewer_of(principal: Principal) -> Viewer:
    """The handoffs domain's view of a caller: what it may see and open."""
    return Viewer(
        actor=principal.audit_name,
        hospital_id=principal.hospital_id,
        receives=principal.can(Perm.HANDOFFS_RECEIVE),
        writes=principal.can(Perm.HANDOFFS_WRITE),
    )


async def handoff_as_seen_by(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, principal: Principal
) -> HandoffRead:
    """The handoff as this caller may see it: content only for those who may open it (the
    receiving hospital; the crew while a draft), routing metadata for the others."""
    return await get_handoff(
        session=session, keyring=keyring, handoff_id=handoff_id, viewer=viewer_of(principal)
    )
