"""EMsync routing: road graph from OpenStreetMap, CCH queries, isochrones, coverage, calibration.

The public surface other domains call; see each module for the details.
"""

from emsync.routing.calibration import (
    Calibration,
    EtaError,
    Trip,
    calibrated_eta,
    eta_error,
    fit_calibrations,
    fit_speed_factors,
)
from emsync.routing.engine import Coverage, Route, RoutingEngine
from emsync.routing.geojson import road_features
from emsync.routing.hospitals import MapHospital, extract_hospitals
from emsync.routing.map_store import (
    MapSummary,
    RoadMap,
    cached_maps,
    default_map_path,
    download_region,
    load_road_map,
)
from emsync.routing.profile import CAR, EMERGENCY, RoadClass, SpeedProfile
from emsync.routing.snapping import LatLon, SnapPoint

__all__ = [
    "CAR",
    "EMERGENCY",
    "Calibration",
    "Coverage",
    "EtaError",
    "LatLon",
    "MapHospital",
    "MapSummary",
    "RoadClass",
    "RoadMap",
    "Route",
    "RoutingEngine",
    "SnapPoint",
    "SpeedProfile",
    "Trip",
    "cached_maps",
    "calibrated_eta",
    "default_map_path",
    "download_region",
    "eta_error",
    "extract_hospitals",
    "fit_calibrations",
    "fit_speed_factors",
    "load_road_map",
    "road_features",
]
