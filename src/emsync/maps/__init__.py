"""Maps: the process's road map (loaded once, shared by dispatch and hospitals), road times from
and to many places, and the `/api/map` routes of the map itself. The road graph, its queries and
calibration are `emsync.routing`'s; this domain decides which map a process runs on.

Other domains use only what is exported here.
"""

from emsync.maps.roadmap import Etas, RoadMapService, etas_from, etas_to, region_of

__all__ = ["Etas", "RoadMapService", "etas_from", "etas_to", "region_of"]
