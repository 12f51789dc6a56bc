"""EMsync geocoding: addresses, streets, crossings and places of the loaded OpenStreetMap extract,
found offline as the dispatcher types, and reverse lookup of a point.

The public surface other domains call.
"""

from emsync.geocoding.index import GeocodeHit, Geocoder, LatLonPoint
from emsync.geocoding.places import PlaceKind
from emsync.geocoding.service import GeocoderService
from emsync.geocoding.store import LoadedGeocoder, load_geocoder

__all__ = [
    "GeocodeHit",
    "Geocoder",
    "GeocoderService",
    "LatLonPoint",
    "LoadedGeocoder",
    "PlaceKind",
    "load_geocoder",
]
