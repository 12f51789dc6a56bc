import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { useEffect, useRef } from "react";
import type { GeoCollection } from "../api/emergency";
import { endpoints } from "../api/endpoints";
import { useApp } from "../app/context";
import { textLabel } from "./MapView";

export interface Layer {
  name: string;
  color: string;
  data: GeoCollection | null;
  label: (props: Record<string, unknown>) => string;
}

/** Leaflet with named GeoJSON overlays (toggled in the layers control); points as circles,
 * polygons as areas; a circle's `radius_km` is drawn to scale. Labels are text tooltips. */
export function LayerMap({ layers, center, onClick, drawing, children }: {
  layers: Layer[];
  center?: [number, number];
  onClick?: (lat: number, lon: number) => void;
  drawing?: { polygon: [number, number][]; circle: { lat: number; lon: number; radius_km: number } | null };
  children?: React.ReactNode;
}) {
  const { api } = useApp();
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const groups = useRef(new Map<string, L.LayerGroup>());
  const control = useRef<L.Control.Layers | null>(null);
  const sketch = useRef<L.LayerGroup | null>(null);
  const click = useRef(onClick);
  useEffect(() => {
    click.current = onClick;
  });

  useEffect(() => {
    if (!host.current) return;
    const m = L.map(host.current, { attributionControl: true, preferCanvas: true });
    m.attributionControl.addAttribution("Roads © OpenStreetMap contributors");
    m.setView(center ?? [60.17, 24.94], 14);
    // The road network for context (tile-less, as on the dispatch board), fetched per view.
    const roads = L.geoJSON(undefined, { style: { color: "#8a8f98", weight: 1.5, opacity: 0.8 }, interactive: false }).addTo(m);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loadRoads = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const b = m.getBounds();
        endpoints.roads(api, [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]).then(
          (fc) => {
            roads.clearLayers();
            roads.addData(fc);
          },
          () => undefined,
        );
      }, 150);
    };
    m.on("moveend", loadRoads);
    if (!center) {
      endpoints.mapInfo(api).then(
        (info) => {
          const [w, so, e, n] = info.bbox as [number, number, number, number];
          m.fitBounds([[so, w], [n, e]]);
        },
        () => loadRoads(),
      );
    } else loadRoads();
    control.current = L.control.layers(undefined, undefined, { collapsed: false }).addTo(m);
    sketch.current = L.layerGroup().addTo(m);
    m.on("click", (e: L.LeafletMouseEvent) => click.current?.(e.latlng.lat, e.latlng.lng));
    map.current = m;
    const byName = groups.current;
    return () => {
      clearTimeout(timer);
      m.remove();
      map.current = null;
      byName.clear();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const m = map.current;
    if (!m || !control.current) return;
    for (const layer of layers) {
      let group = groups.current.get(layer.name);
      if (!group) {
        group = L.layerGroup().addTo(m);
        groups.current.set(layer.name, group);
        control.current.addOverlay(group, layer.name);
      }
      group.clearLayers();
      for (const f of layer.data?.features ?? []) {
        const p = f.properties;
        const text = layer.label(p);
        if (f.geometry.type === "Point") {
          const [lon, lat] = f.geometry.coordinates as [number, number];
          const radius = typeof p.radius_km === "number" ? p.radius_km : null;
          const shape = radius
            ? L.circle([lat, lon], { radius: radius * 1000, color: layer.color, weight: 2, fillOpacity: 0.15 })
            : L.circleMarker([lat, lon], { radius: 8, color: "#fff", weight: 2, fillColor: layer.color, fillOpacity: 0.9 });
          shape.bindTooltip(textLabel(text));
          group.addLayer(shape);
        } else if (f.geometry.type === "Polygon") {
          const rings = (f.geometry.coordinates as [number, number][][]).map((ring) => ring.map(([lon, lat]) => [lat, lon] as [number, number]));
          group.addLayer(L.polygon(rings, { color: layer.color, weight: 2, fillOpacity: 0.15 }).bindTooltip(textLabel(text)));
        }
      }
    }
  }, [layers]);

  useEffect(() => {
    const s = sketch.current;
    if (!s) return;
    s.clearLayers();
    if (drawing?.polygon.length) {
      L.polyline(drawing.polygon, { color: "#d35400", weight: 3, dashArray: "6 4" }).addTo(s);
      for (const p of drawing.polygon) L.circleMarker(p, { radius: 4, color: "#d35400" }).addTo(s);
    }
    if (drawing?.circle) {
      const c = drawing.circle;
      L.circle([c.lat, c.lon], { radius: c.radius_km * 1000, color: "#d35400", weight: 3, dashArray: "6 4" }).addTo(s);
    }
  }, [drawing]);

  return (
    <div className="map-wrap">
      <div ref={host} className="map" role="region" aria-label="Map layers (the lists on this page hold the same information)" data-testid="emergency-map" />
      {children}
    </div>
  );
}
