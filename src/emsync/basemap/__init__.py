"""EMsync basemap: street names, water, parks, buildings and places of the loaded OpenStreetMap
extract as vector tiles in a PMTiles archive, served offline to the dashboard's map."""

from emsync.basemap.service import BasemapService
from emsync.basemap.store import Basemap, load_basemap

__all__ = ["Basemap", "BasemapService", "load_basemap"]
