"""Dispatch: units (ambulances), their status lifecycle and positions, recommendation and
assignment, trip times for ETA calibration (the road map itself is `emsync.maps`'s).

Other domains use only what is exported here. Telemetry's hook for MQTT `position` messages is
`record_device_position(uow=..., device_id=..., lat=..., lon=..., at=...)`: it moves the unit
carrying that device and records `UnitPositionChanged`, published when the caller commits.
`unit_summaries(session=...)` lists the units for boards, `call_sign_of` names one; a
`CrewCheck` provided on the runtime (the roster) excludes units without a qualified crew on shift
from recommendations.
"""

from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.events import (
    DispatchRecommended,
    UnitAssigned,
    UnitCreated,
    UnitPositionChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.public import (
    CrewUnit,
    UnitSummary,
    call_sign_of,
    crew_unit,
    unit_exists,
    unit_summaries,
)
from emsync.dispatch.service import record_device_position

__all__ = [
    "CrewCheck",
    "CrewUnit",
    "DispatchRecommended",
    "UnitAssigned",
    "UnitCreated",
    "UnitPositionChanged",
    "UnitStatus",
    "UnitStatusChanged",
    "UnitSummary",
    "UnitUpdated",
    "call_sign_of",
    "crew_unit",
    "record_device_position",
    "unit_exists",
    "unit_summaries",
]
