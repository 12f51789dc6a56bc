import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { useEffect, useRef } from "react";
import type { FeatureCollection, LineStringGeometry } from "../api/endpoints";
import { useApp } from "../app/context";
import { basemapLayer } from "./basemap";

export interface MapPoint {
  id: string;
  lat: number;
  lon: number;
  kind: "incident" | "unit" | "hospital";
  label: string;
  tone?: string;
  selected?: boolean;
}

interface Props {
  roads: FeatureCollection | null;
  /** The road map's extent [west, south, east, north]: the first view when there are no points. */
  bounds?: number[] | null;
  points: MapPoint[];
  route: LineStringGeometry | null;
  onSelect?: (id: string, kind: MapPoint["kind"]) => void;
  onViewport?: (bbox: [number, number, number, number]) => void;
  /** A click on the map itself (not a marker): e.g. where an incident is. */
  onPick?: (lat: number, lon: number) => void;
  /** Shown while a click on the map will set a position (the cursor turns to a crosshair). */
  picking?: boolean;
}

const COLORS = { incident: "#c0392b", unit: "#1f6fb2", hospital: "#2e7d32" } as const;

/** A Leaflet map over the offline basemap (vector tiles of the loaded extract: street names,
 * water, parks, buildings); EMsync draws closed roads, markers and routes over it. */
export function MapView({ roads, bounds, points, route, onSelect, onViewport, onPick, picking }: Props) {
  const { api } = useApp();
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const roadLayer = useRef<L.GeoJSON | null>(null);
  const markerLayer = useRef<L.LayerGroup | null>(null);
  const routeLayer = useRef<L.LayerGroup | null>(null);
  const fitted = useRef(false);
  const shown = useRef<string | null>(null);
  const viewport = useRef(onViewport);
  const select = useRef(onSelect);
  const pick = useRef(onPick);
  useEffect(() => {
    viewport.current = onViewport;
    select.current = onSelect;
    pick.current = onPick;
  });

  useEffect(() => {
    if (!host.current) return;
    const m = L.map(host.current, { zoomControl: true, attributionControl: true, preferCanvas: true });
    m.setView([60.17, 24.94], 14);
    basemapLayer(api).addTo(m);
    // The basemap draws the streets; this layer only marks closed roads over it.
    roadLayer.current = L.geoJSON(undefined, {
      style: (f) => {
        const props = (f?.properties ?? {}) as { closed?: boolean; road_class?: string };
        return {
          color: "#c0392b",
          weight: roadWeight(props.road_class ?? "") + 2,
          opacity: props.closed ? 0.9 : 0,
        };
      },
    }).addTo(m);
    routeLayer.current = L.layerGroup().addTo(m);
    markerLayer.current = L.layerGroup().addTo(m);
    const report = () => {
      const b = m.getBounds();
      viewport.current?.([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
    };
    m.on("moveend", report);
    m.on("click", (e: L.LeafletMouseEvent) => pick.current?.(e.latlng.lat, e.latlng.lng));
    map.current = m;
    report();
    return () => {
      m.remove();
      map.current = null;
    };
  }, [api]);

  useEffect(() => {
    const layer = roadLayer.current;
    if (!layer) return;
    layer.clearLayers();
    if (roads) layer.addData(roads);
  }, [roads]);

  useEffect(() => {
    const layer = markerLayer.current;
    const m = map.current;
    if (!layer || !m) return;
    layer.clearLayers();
    for (const p of points) {
      const marker = L.circleMarker([p.lat, p.lon], {
        radius: p.selected ? 11 : p.kind === "hospital" ? 9 : 7,
        color: p.selected ? "#111" : "#fff",
        weight: p.selected ? 3 : 2,
        fillColor: p.tone ?? COLORS[p.kind],
        fillOpacity: 0.95,
      });
      // An element, never a string: Leaflet renders a string tooltip as HTML, and labels carry
      // user text (chief complaint, hospital name).
      marker.bindTooltip(textLabel(p.label));
      marker.on("click", () => select.current?.(p.id, p.kind));
      layer.addLayer(marker);
    }
    if (!fitted.current && points.length > 1) {
      fitted.current = true;
      m.fitBounds(L.latLngBounds(points.map((p) => [p.lat, p.lon])).pad(0.3), { maxZoom: 16 });
    }
    // A newly selected incident is shown close up, where the street names are drawn; after
    // that it is only kept in view.
    const chosen = points.find((p) => p.selected);
    if (chosen && chosen.id !== shown.current) {
      shown.current = chosen.id;
      m.setView([chosen.lat, chosen.lon], Math.max(m.getZoom(), 16));
    } else if (chosen && !m.getBounds().contains([chosen.lat, chosen.lon])) m.panTo([chosen.lat, chosen.lon]);
  }, [points]);

  useEffect(() => {
    const m = map.current;
    if (!m || !bounds || bounds.length !== 4) return;
    // The whole road map is the first view; EMsync's maps are city-sized.
    fitted.current = true;
    const [w, so, e, n] = bounds as [number, number, number, number];
    m.fitBounds([
      [so, w],
      [n, e],
    ]);
  }, [bounds]);

  useEffect(() => {
    const layer = routeLayer.current;
    if (!layer) return;
    layer.clearLayers();
    if (route && route.coordinates.length > 1) {
      L.polyline(
        route.coordinates.map(([lon, lat]) => [lat, lon] as [number, number]),
        { color: "#e67e22", weight: 6, opacity: 0.9 },
      ).addTo(layer);
    }
  }, [route]);

  // Toggled on the element, not through React's className: Leaflet adds its own classes to the
  // host (leaflet-container: overflow hidden), and a re-rendered className would wipe them, so
  // the map would spill over the page while it animates.
  useEffect(() => {
    host.current?.classList.toggle("picking", Boolean(picking));
  }, [picking]);

  return (
    <div
      ref={host}
      className="map"
      role="region"
      aria-label="Map of incidents, units and hospitals (the lists beside it hold the same information)"
      data-testid="map"
    />
  );
}

/** A tooltip body whose text is set as text: markup in `label` stays visible characters. */
export function textLabel(label: string): HTMLElement {
  const span = document.createElement("span");
  span.textContent = label;
  return span;
}

function roadWeight(roadClass: string): number {
  if (/motorway|trunk/.test(roadClass)) return 4;
  if (/primary|secondary/.test(roadClass)) return 3;
  return 1.5;
}
