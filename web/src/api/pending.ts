/* Endpoints of domains still being built (dispatch, hospitals, map, telemetry, handoffs, triage),
 * written against their documented shapes. Every call here tolerates the endpoint not existing
 * yet: `optional` turns a 404/405 into `null`, and the views show "not available yet" instead of
 * failing. When an endpoint lands, move its types to types.ts (generated from OpenAPI). */
import { ApiError, type ApiClient } from "./client";

/** e.g. available, dispatched, en_route, on_scene, transporting, at_hospital, out_of_service. */
export type UnitStatus = string;

export interface Unit {
  id: string;
  callsign: string;
  status: UnitStatus;
  lat: number | null;
  lon: number | null;
  incident_id?: string | null;
  updated_at?: string;
}

export interface Hospital {
  id: string;
  name: string;
  lat: number | null;
  lon: number | null;
  capabilities?: string[];
  ed_beds_total?: number | null;
  ed_beds_available?: number | null;
  diversion?: boolean;
}

export interface LineStringGeometry {
  type: "LineString";
  coordinates: [number, number][];
}

export interface UnitRecommendation {
  unit_id: string;
  callsign?: string;
  eta_seconds: number;
  distance_m?: number;
  reasons: string[];
  route?: LineStringGeometry | null;
}

export interface HospitalRecommendation {
  hospital_id: string;
  name?: string;
  eta_seconds: number;
  reasons: string[];
  route?: LineStringGeometry | null;
}

export interface Recommendations {
  units: UnitRecommendation[];
  hospitals: HospitalRecommendation[];
}

export interface FeatureCollection {
  type: "FeatureCollection";
  features: {
    type: "Feature";
    geometry: { type: string; coordinates: unknown };
    properties: Record<string, unknown> | null;
  }[];
  truncated?: boolean;
  bbox?: number[];
}

export interface VitalsReading {
  ts: string;
  hr?: number | null;
  spo2?: number | null;
  rr?: number | null;
  sbp?: number | null;
  dbp?: number | null;
  temp?: number | null;
  o2?: boolean | null;
  avpu?: string | null;
  news2?: number | null;
  news2_band?: string | null;
}

export interface Alert {
  id: string;
  patient_id?: string | null;
  kind?: string;
  severity?: string;
  message: string;
  raised_at: string;
  acknowledged_at?: string | null;
  acknowledged_by?: string | null;
}

export interface Atmist {
  age?: string | null;
  time?: string | null;
  mechanism?: string | null;
  injuries?: string | null;
  signs?: string | null;
  treatment?: string | null;
}

export interface Handoff {
  id: string;
  incident_id?: string | null;
  patient_id?: string | null;
  hospital_id: string;
  status: string;
  acuity?: number | null;
  eta?: string | null;
  atmist?: Atmist | null;
  created_at?: string;
}

export interface TriageRequest {
  age: number;
  sex: "female" | "male";
  chief_complaint: string;
  consciousness?: string;
  pain?: boolean;
  nrs_pain?: number | null;
  injury?: boolean;
  hr?: number | null;
  rr?: number | null;
  sbp?: number | null;
  dbp?: number | null;
  temp?: number | null;
  spo2?: number | null;
  on_oxygen?: boolean;
}

export interface TriageResult {
  level: number;
  probabilities?: Record<string, number>;
  news2?: { total?: number; score?: number; band?: string } | null;
  explanation?: { feature?: string; label?: string; contribution?: number; value?: unknown }[];
  model_version?: string;
}

/** null when the endpoint does not exist on this server (yet). */
export async function optional<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
    throw e;
  }
}

const q = encodeURIComponent;

export const endpoints = {
  units: (api: ApiClient) => optional(api.get<Unit[] | { items: Unit[] }>("/api/units")),
  hospitals: (api: ApiClient) =>
    optional(api.get<Hospital[] | { items: Hospital[] }>("/api/hospitals")),
  updateHospital: (
    api: ApiClient,
    id: string,
    body: { ed_beds_available?: number; diversion?: boolean },
  ) => api.patch<Hospital>(`/api/hospitals/${q(id)}`, body),
  roads: (api: ApiClient, bbox: [number, number, number, number]) =>
    optional(api.get<FeatureCollection>(`/api/map/roads?bbox=${bbox.join(",")}&limit=3000`)),
  mapBounds: (api: ApiClient) =>
    optional(api.get<{ bbox: [number, number, number, number] }>("/api/map")),
  recommendations: (api: ApiClient, incidentId: string) =>
    optional(api.get<Recommendations>(`/api/incidents/${q(incidentId)}/recommendations`)),
  assign: (api: ApiClient, incidentId: string, unitId: string, hospitalId?: string) =>
    api.post<unknown>(`/api/incidents/${q(incidentId)}/assign`, {
      unit_id: unitId,
      hospital_id: hospitalId ?? null,
    }),
  latestVitals: (api: ApiClient, patientId: string) =>
    optional(api.get<VitalsReading | null>(`/api/patients/${q(patientId)}/vitals/latest`)),
  vitalsHistory: (api: ApiClient, patientId: string, since: Date, until: Date) =>
    optional(
      api.get<VitalsReading[] | { items: VitalsReading[] }>(
        `/api/patients/${q(patientId)}/vitals?since=${q(since.toISOString())}&until=${q(until.toISOString())}`,
      ),
    ),
  alerts: (api: ApiClient) =>
    optional(api.get<Alert[] | { items: Alert[] }>("/api/alerts?acknowledged=false")),
  acknowledgeAlert: (api: ApiClient, id: string) =>
    api.post<Alert>(`/api/alerts/${q(id)}/acknowledge`),
  handoffs: (api: ApiClient, hospitalId: string | null) =>
    optional(
      api.get<Handoff[] | { items: Handoff[] }>(
        hospitalId ? `/api/handoffs?hospital_id=${q(hospitalId)}` : "/api/handoffs",
      ),
    ),
  handoffAction: (api: ApiClient, id: string, action: "acknowledge" | "arrived" | "handed-over") =>
    api.post<Handoff>(`/api/handoffs/${q(id)}/${action}`),
  triage: (api: ApiClient, body: TriageRequest) =>
    optional(api.post<TriageResult>("/api/triage", body)),
};

export function itemsOf<T>(value: T[] | { items: T[] } | null): T[] {
  if (value === null) return [];
  return Array.isArray(value) ? value : value.items;
}
