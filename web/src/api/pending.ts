/* The endpoints the views call. Types of landed endpoints come from the server's OpenAPI schema
 * (types.ts); triage (POST /api/triage) has not landed yet and is written against its documented
 * shape: `optional` turns its 404 into `null` and the view says "not available yet". */
import { ApiError, type ApiClient } from "./client";
import type {
  AlertPage,
  AlertRead,
  AssignmentRead,
  DestinationRecommendation,
  HandoffPage,
  HandoffRead,
  HospitalRead,
  HospitalUpdate,
  LatestVitals,
  RecommendationRead,
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

/** One reading as the monitor shows it: history items and live `vitals:<id>` readings alike. */
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
  band?: string | null;
  /** A child's Bedside PEWS (never NEWS2 for a child). */
  pews?: number | null;
  /** Probable artefacts in this reading: shown as such, never dropped. */
  artefacts?: { field: string; kind: string }[] | null;
}

export interface TriageRequest {
  incident_id?: string | null;
  patient_id?: string | null;
  age: number;
  sex: "female" | "male" | "unknown";
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
  oxygen_therapy?: "room_air" | "low_flow" | "high_flow" | null;
  respiratory_effort?: "normal" | "mild" | "moderate" | "severe" | null;
  capillary_refill_seconds?: number | null;
  high_risk?: boolean;
  expected_resources?: number | null;
}

export interface RangeRead {
  low: number;
  high: number;
}

export interface TriageResult {
  level: number;
  most_likely_level?: number;
  safety_rule?: string | null;
  probabilities?: Record<string, number>;
  news2?: { total?: number; score?: number; band?: string } | null;
  explanation?: { feature?: string; label?: string; contribution?: number; value?: unknown }[];
  model_version?: string;
  pathway?: "adult" | "paediatric";
  scale?: string;
  pews?: {
    total: number;
    band: string;
    age_group: string;
    subscores: Record<string, number>;
    not_measured: string[];
    source: string;
  } | null;
  reference_ranges?: {
    age_group: string;
    heart_rate: RangeRead;
    systolic_bp: RangeRead;
    respiratory_rate: RangeRead;
    spo2_min: number;
  } | null;
  reasons?: string[];
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

export type ReceiptStatus = "acknowledged" | "arrived" | "handed_over";

export const endpoints = {
  units: (api: ApiClient) => api.get<UnitRead[]>("/api/units"),
  hospitals: (api: ApiClient) => api.get<HospitalRead[]>("/api/hospitals"),
  updateHospital: (api: ApiClient, id: string, body: HospitalUpdate) =>
    api.patch<HospitalRead>(`/api/hospitals/${q(id)}`, body),
  mapInfo: (api: ApiClient) => api.get<{ bbox: number[]; region?: string }>("/api/map"),
  roads: (api: ApiClient, bbox: [number, number, number, number]) =>
    api.get<FeatureCollection>(`/api/map/roads?bbox=${bbox.map((v) => v.toFixed(5)).join(",")}&limit=3000`),
  route: (api: ApiClient, unitId: string, incidentId: string) =>
    api.get<{ type: string; geometry?: LineStringGeometry; coordinates?: [number, number][] }>(
      `/api/map/route?unit_id=${q(unitId)}&incident_id=${q(incidentId)}`,
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
  triage: (api: ApiClient, body: TriageRequest) => optional(api.post<TriageResult>("/api/triage", body)),
};
