/* The intake endpoints the dashboard calls (ED board, session detail, overrides, bed board,
   worker and agent health), typed from the OpenAPI schema. */
import type { ApiClient } from "./client";
import type { components } from "./schema";

type S = components["schemas"];
export type SessionSummary = S["SessionSummary"];
export type SessionRead = S["SessionRead"];
export type StepRead = S["StepRead"];
export type OverrideBody = S["Override"];
export type EmergencyTriage = S["EmergencyTriage"];
export type BedBoard = S["BedBoard"];
export type AgentHealth = S["AgentHealth"];
export type WorkerHealth = S["WorkerHealth"];
export type DeviceReportRead = S["DeviceReportRead"];
export type DeviceReport = S["DeviceReport"];
export type AppointmentSchedule = S["AppointmentSchedule"];
export type BookingRead = S["BookingRead"];

const q = encodeURIComponent;

export const intake = {
  sessions: (api: ApiClient, hospitalId: string | null) =>
    api.get<SessionSummary[]>(
      `/api/intake/sessions?limit=50${hospitalId ? `&hospital_id=${q(hospitalId)}` : ""}`,
    ),
  session: (api: ApiClient, id: string) => api.get<SessionRead>(`/api/intake/workflow/${q(id)}`),
  arrive: (api: ApiClient, body: EmergencyTriage) =>
    api.post<SessionRead>("/api/intake/emergency/triage", body),
  override: (api: ApiClient, id: string, body: OverrideBody) =>
    api.post<SessionRead>(`/api/intake/emergency/override/${q(id)}`, body),
  complete: (api: ApiClient, id: string, reason: string) =>
    api.post<SessionRead>(`/api/intake/workflow/${q(id)}/complete`, { reason }),
  beds: (api: ApiClient, hospitalId: string) =>
    api.get<BedBoard>(`/api/intake/beds?hospital_id=${q(hospitalId)}`),
  health: (api: ApiClient) => api.get<AgentHealth[]>("/api/intake/health/agents"),
  workers: (api: ApiClient) => api.get<WorkerHealth[]>("/api/intake/health/workers"),
  deviceReports: (api: ApiClient, id: string) =>
    api.get<DeviceReportRead[]>(`/api/intake/workflow/${q(id)}/device-reports`),
  fileReport: (api: ApiClient, deviceId: string, body: DeviceReport) =>
    api.post<DeviceReportRead>(`/api/intake/devices/${q(deviceId)}/reports`, body),
  schedule: (api: ApiClient, body: AppointmentSchedule) =>
    api.post<BookingRead>("/api/intake/appointments/schedule", body),
};

/** Plain words for a step's status on the board. */
export const STEP_LABEL: Record<string, string> = {
  pending: "waiting",
  queued: "queued",
  running: "running",
  done: "done",
  needs_review: "review",
  dead_letter: "failed",
  skipped: "skipped",
};
