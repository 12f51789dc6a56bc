"""Dispatch: units (ambulances), their status lifecycle and positions, recommendation and
assignment, trip times for ETA calibration, and the process's road map.

Other domains use only what is exported here. Telemetry's hook for MQTT `position` messages is
`record_device_position(uow=..., device_id=..., lat=..., lon=..., at=...)`: it moves the unit
carrying that device and records `UnitPositionChanged`, published when the caller commits.
`unit_summaries(session=...)` lists the units for boards; a `CrewCheck` provided on the runtime
(the roster) excludes units without a qualified crew on shift from recommendations.
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
from emsync.dispatch.public import UnitSummary, unit_summaries
from emsync.dispatch.roadmap import Etas, RoadMapService, etas_from, etas_to, region_of
from emsync.dispatch.service import record_device_position

__all__ = [
    "CrewCheck",
    "DispatchRecommended",
    "Etas",
    "RoadMapService",
    "UnitAssigned",
    "UnitCreated",
    "UnitPositionChanged",
    "UnitStatus",
    "UnitStatusChanged",
    "UnitSummary",
    "UnitUpdated",
    "etas_from",
    "etas_to",
    "record_device_position",
    "region_of",
    "unit_summaries",
]
