"""What other domains may read of a handoff, inside their own transaction (DESIGN §2: through
the owner's public functions).

`arrival_record`: the handoff as its receiving hospital sees it (content, the clinical picture
merged with updates, latest signs), for the intake agents when the patient arrives.
`handoff_as_seen_by`: the handoff as a caller may see it (the registry's medication check).
Not re-exported from the package `__init__` (it loads SQLAlchemy).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.crypto import Keyring
from emsync.dispatch import crew_unit
from emsync.handoffs.reads import CrewScope, Viewer, get_handoff, load_handoff, read_handoff
from emsync.handoffs.schemas import HandoffRead


async def arrival_record(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str
) -> HandoffRead:
    """NotFound when there is no such handoff."""
    handoff = await load_handoff(session, handoff_id)
    return await read_handoff(session, keyring, handoff, Viewer.hospital(handoff.hospital_id))


def unit_scoped(principal: Principal) -> bool:
    """The crew role reads only its own call: it acts for a unit and has no incidents:read
    (a paramedic or dispatcher who can read every incident sees every handoff's metadata)."""
    return principal.can(Perm.CREW_UNIT) and not principal.can(Perm.INCIDENTS_READ)


async def viewer_for(*, session: AsyncSession, principal: Principal) -> Viewer:
    """The handoffs domain's view of a caller: what it may see and open (a crew's unit and
    current call read now, so a crew moved to another unit or call loses the old one at once)."""
    crew = None
    if unit_scoped(principal):
        unit = await crew_unit(session=session, unit_id=principal.unit_id)
        crew = CrewScope(
            units=frozenset({unit.unit_id, unit.call_sign}) if unit else frozenset(),
            incident_id=unit.incident_id if unit else None,
        )
    return Viewer(
        actor=principal.audit_name,
        hospital_id=principal.hospital_id,
        receives=principal.can(Perm.HANDOFFS_RECEIVE),
        writes=principal.can(Perm.HANDOFFS_WRITE),
        crew=crew,
    )


async def handoff_as_seen_by(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, principal: Principal
) -> HandoffRead:
    """The handoff as this caller may see it: content only for those who may open it (the
    receiving hospital; the crew while a draft), routing metadata for the others."""
    viewer = await viewer_for(session=session, principal=principal)
    return await get_handoff(session=session, keyring=keyring, handoff_id=handoff_id, viewer=viewer)


__all__ = ["HandoffRead", "arrival_record", "handoff_as_seen_by", "unit_scoped", "viewer_for"]
