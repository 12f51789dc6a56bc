/* The offline basemap: vector tiles built from the loaded OpenStreetMap extract at import
 * (GET /api/map/basemap.pmtiles, read by byte ranges with the session's token), drawn and
 * labelled on canvas by protomaps-leaflet. No tile server or CDN is asked for anything.
 * Street names are painted on the canvas, never inserted into the DOM as markup. */
import type L from "leaflet";
import { PMTiles, type RangeResponse, type Source } from "pmtiles";
import {
  CenteredTextSymbolizer,
  GeomType,
  LineLabelSymbolizer,
  LineSymbolizer,
  PolygonSymbolizer,
  leafletLayer,
  type Feature,
  type LabelRule,
  type PaintRule,
} from "protomaps-leaflet";
import type { ApiClient } from "../api/client";

export const BASEMAP_URL = "/api/map/basemap.pmtiles";

/** PMTiles' byte ranges fetched with the bearer token (the archive is behind map:read). */
export class AuthorizedSource implements Source {
  constructor(
    private readonly api: ApiClient,
    private readonly url = BASEMAP_URL,
  ) {}

  getKey(): string {
    return this.url;
  }

  async getBytes(offset: number, length: number, signal?: AbortSignal): Promise<RangeResponse> {
    const token = await this.api.token();
    const headers: Record<string, string> = { Range: `bytes=${offset}-${offset + length - 1}` };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(this.url, { headers, signal, credentials: "same-origin" });
    if (res.status !== 206 && res.status !== 200) throw new Error(`basemap: HTTP ${res.status}`);
    return {
      data: await res.arrayBuffer(),
      etag: res.headers.get("ETag") ?? undefined,
      cacheControl: res.headers.get("Cache-Control") ?? undefined,
    };
  }
}

const kind = (f?: Feature): string => {
  const k = f?.props.kind;
  return typeof k === "string" ? k : "";
};
const MAJOR = /^(motorway|trunk|primary)(_link)?$/;
const MIDDLE = /^(secondary|tertiary)(_link)?$/;
const PATH = /^(footway|path|cycleway|steps|bridleway|corridor|pedestrian)$/;

function roadWidth(z: number, f?: Feature): number {
  const k = kind(f);
  const scale = Math.max(0.5, (z - 12) / 2);
  if (MAJOR.test(k)) return 3.5 * scale;
  if (MIDDLE.test(k)) return 3 * scale;
  if (PATH.test(k)) return 1;
  return 2.2 * scale;
}

function roadColor(_z: number, f?: Feature): string {
  const k = kind(f);
  if (MAJOR.test(k)) return "#fde0b2"; // pale: the route (orange) must stand out
  if (MIDDLE.test(k)) return "#fbf6cf";
  if (PATH.test(k)) return "#d98f7a";
  return "#ffffff";
}

const polygons = (_z: number, f: Feature) => f.geomType === GeomType.Polygon;
const lines = (_z: number, f: Feature) => f.geomType === GeomType.Line;

export const PAINT_RULES: PaintRule[] = [
  { dataLayer: "green", symbolizer: new PolygonSymbolizer({ fill: "#cfe6c0" }) },
  { dataLayer: "water", filter: polygons, symbolizer: new PolygonSymbolizer({ fill: "#a9d2e3" }) },
  { dataLayer: "water", filter: lines, symbolizer: new LineSymbolizer({ color: "#a9d2e3", width: 2.5 }) },
  {
    dataLayer: "buildings",
    symbolizer: new PolygonSymbolizer({ fill: "#dfd6ce", stroke: "#c9bcb1", width: 0.5 }),
  },
  // Casing under every road, then its fill: roads read as roads on any background.
  {
    dataLayer: "roads",
    filter: (_z, f) => !PATH.test(kind(f)),
    symbolizer: new LineSymbolizer({ color: "#a8a29a", width: (z, f) => roadWidth(z, f) + 1.5 }),
  },
  { dataLayer: "roads", symbolizer: new LineSymbolizer({ color: roadColor, width: roadWidth }) },
];

export const LABEL_RULES: LabelRule[] = [
  {
    dataLayer: "places",
    symbolizer: new CenteredTextSymbolizer({
      labelProps: ["name"],
      fill: "#333",
      stroke: "#fff",
      width: 3,
      font: "600 14px sans-serif",
    }),
  },
  {
    dataLayer: "roads",
    minzoom: 14,
    symbolizer: new LineLabelSymbolizer({
      labelProps: ["name"],
      fill: "#2b2b2b",
      stroke: "#fff",
      width: 3,
      font: "500 12px sans-serif",
    }),
  },
];

/** The basemap as a Leaflet layer, under EMsync's own layers. */
export function basemapLayer(api: ApiClient): L.Layer {
  return leafletLayer({
    url: new PMTiles(new AuthorizedSource(api)),
    paintRules: PAINT_RULES,
    labelRules: LABEL_RULES,
    backgroundColor: "#f2efe9",
    maxDataZoom: 15,
    attribution: "© OpenStreetMap contributors",
  }) as unknown as L.Layer;
}
