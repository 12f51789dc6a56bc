/* The endpoints the views call, typed with the shapes generated from the server's OpenAPI
 * schema (types.ts). The map routes answer GeoJSON (RFC 7946), which the schema leaves open:
 * the GeoJSON shapes the views read are declared here. */
import type { ApiClient } from "./client";
import type {
  AlertPage,
  AlertRead,
  AssignmentRead,
  DestinationRecommendation,
  GeocodeHitRead,
  HandoffPage,
  HandoffRead,
  HospitalRead,
  HospitalUpdate,
  LatestVitals,
  RecommendationRead,
  TriageRequest,
  TriageResponse,
  UnitRead,
  VitalsHistory,
} from "./types";

export interface LineStringGeometry {
  type: "LineString";
  coordinates: [number, number][];
}

export interface FeatureCollection {
  type: "FeatureCollection";
  features: {
    type: "Feature";
    geometry: { type: string; coordinates: unknown };
    properties: Record<string, unknown> | null;
  }[];
  truncated?: boolean;
}

const q = encodeURIComponent;

export type ReceiptStatus = "acknowledged" | "arrived" | "handed_over";

export const endpoints = {
  units: (api: ApiClient) => api.get<UnitRead[]>("/api/units"),
  hospitals: (api: ApiClient) => api.get<HospitalRead[]>("/api/hospitals"),
  updateHospital: (api: ApiClient, id: string, body: HospitalUpdate) =>
    api.patch<HospitalRead>(`/api/hospitals/${q(id)}`, body),
  mapInfo: (api: ApiClient) => api.get<{ bbox: number[]; region?: string }>("/api/map"),
  roads: (api: ApiClient, bbox: [number, number, number, number]) =>
    api.get<FeatureCollection>(`/api/map/roads?bbox=${bbox.map((v) => v.toFixed(5)).join(",")}&limit=3000`),
  /** The unit's road route to the scene, or to a hospital once it carries the patient there. */
  route: (api: ApiClient, unitId: string, to: { incidentId: string } | { hospitalId: string }) =>
    api.get<{ type: string; geometry?: LineStringGeometry; coordinates?: [number, number][] }>(
      "incidentId" in to
        ? `/api/map/route?unit_id=${q(unitId)}&incident_id=${q(to.incidentId)}`
        : `/api/map/route?unit_id=${q(unitId)}&hospital_id=${q(to.hospitalId)}`,
    ),
  recommendation: (api: ApiClient, incidentId: string) =>
    api.get<RecommendationRead>(`/api/dispatch/incidents/${q(incidentId)}/recommendation`),
  destinations: (api: ApiClient, incidentId: string) =>
    api.get<DestinationRecommendation>(`/api/hospitals/destinations?incident_id=${q(incidentId)}`),
  assign: (api: ApiClient, incidentId: string, unitId: string) =>
    api.post<AssignmentRead>(`/api/dispatch/incidents/${q(incidentId)}/assign`, { unit_id: unitId }),
  latestVitals: (api: ApiClient, patientId: string) =>
    api.get<LatestVitals>(`/api/telemetry/patients/${q(patientId)}/vitals/latest`),
  vitalsHistory: (api: ApiClient, patientId: string, start: Date, end: Date, points?: number) =>
    api.get<VitalsHistory>(
      `/api/telemetry/patients/${q(patientId)}/vitals?start=${q(start.toISOString())}&end=${q(end.toISOString())}&limit=200${points ? `&points=${points}` : ""}`,
    ),
  openAlerts: (api: ApiClient) =>
    api.get<AlertPage>("/api/telemetry/alerts?status=raised&limit=100"),
  acknowledgeAlert: (api: ApiClient, id: string) =>
    api.post<AlertRead>(`/api/telemetry/alerts/${q(id)}/ack`, {}),
  handoffs: (api: ApiClient, hospitalId: string | null) =>
    api.get<HandoffPage>(
      `/api/handoffs?limit=100${hospitalId ? `&hospital_id=${q(hospitalId)}` : ""}` +
        ["sent", "delivered", "acknowledged", "redirected", "arrived"].map((s) => `&status=${s}`).join(""),
    ),
  handoff: (api: ApiClient, id: string) => api.get<HandoffRead>(`/api/handoffs/${q(id)}`),
  receipt: (api: ApiClient, id: string, status: ReceiptStatus) =>
    api.post<HandoffRead>(`/api/handoffs/${q(id)}/receipt`, { status }),
  triage: (api: ApiClient, body: TriageRequest) => api.post<TriageResponse>("/api/triage", body),
  geocode: (api: ApiClient, text: string, near?: { lat: number; lon: number } | null) =>
    api.get<GeocodeHitRead[]>(
      `/api/geocode?q=${q(text)}&limit=8${near ? `&lat=${near.lat.toFixed(5)}&lon=${near.lon.toFixed(5)}` : ""}`,
    ),
  reverseGeocode: (api: ApiClient, lat: number, lon: number) =>
    api.get<GeocodeHitRead[]>(`/api/geocode/reverse?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}`),
};
