/* The emergency-management endpoints the dashboard calls, typed from the OpenAPI schema. */
import { ApiError, type ApiClient } from "./client";
import type { components } from "./schema";

type S = components["schemas"];
export type ResourceRead = S["ResourceRead"];
export type ResourceCreate = S["ResourceCreate"];
export type PersonRead = S["PersonRead"];
export type PersonCreate = S["PersonCreate"];
export type ShiftRead = S["ShiftRead"];
export type OnDutyRead = S["OnDutyRead"];
export type UnitCrewRead = S["UnitCrewRead"];
export type ShelterRead = S["ShelterRead"];
export type ShelterCreate = S["ShelterCreate"];
export type CheckIn = S["CheckIn"];
export type CheckInResult = S["CheckInResult"];
export type EvacueeRead = S["EvacueeRead"];
export type OccupancyPoint = S["OccupancyPoint"];
export type ItemRead = S["ItemRead"];
export type LocationRead = S["LocationRead"];
export type StockRead = S["StockRead"];
export type MovementCreate = S["MovementCreate"];
export type MovementRead = S["MovementRead"];
export type RequestRead = S["RequestRead"];
export type StockAlertRead = S["StockAlertRead"];
export type PublicAlertRead = S["PublicAlertRead"];
export type PublicAlertCompose = S["PublicAlertCompose"];
export type FeedStatus = S["FeedStatus"];
export type SearchResults = S["SearchResults"];
export type SearchHitRead = S["SearchHitRead"];
export type ActivityRead = S["ActivityRead"];
export type TeamRead = S["TeamRead"];

export interface GeoFeature {
  type: "Feature";
  geometry: { type: string; coordinates: unknown };
  properties: Record<string, unknown>;
}
export interface GeoCollection {
  type: "FeatureCollection";
  features: GeoFeature[];
}

const q = encodeURIComponent;
const E = "/api/emergency";

export const emergency = {
  board: (api: ApiClient) => api.get<ResourceRead[]>(`${E}/resources`),
  createResource: (api: ApiClient, body: ResourceCreate) => api.post<ResourceRead>(`${E}/resources`, body),
  updateResource: (api: ApiClient, id: string, body: Partial<ResourceCreate>) =>
    api.patch<ResourceRead>(`${E}/resources/${q(id)}`, body),
  assignResource: (api: ApiClient, id: string, incidentId: string | null) =>
    api.post<ResourceRead>(`${E}/resources/${q(id)}/assignment`, { incident_id: incidentId }),
  people: (api: ApiClient) => api.get<PersonRead[]>(`${E}/people`),
  createPerson: (api: ApiClient, body: PersonCreate) => api.post<PersonRead>(`${E}/people`, body),
  addShift: (api: ApiClient, personId: string, body: Record<string, unknown>) =>
    api.post<ShiftRead[]>(`${E}/people/${q(personId)}/shifts`, body),
  shifts: (api: ApiClient, start: Date, end: Date) =>
    api.get<ShiftRead[]>(`${E}/shifts?start=${q(start.toISOString())}&end=${q(end.toISOString())}`),
  onDuty: (api: ApiClient) => api.get<OnDutyRead[]>(`${E}/on-duty`),
  unitCrews: (api: ApiClient) => api.get<UnitCrewRead[]>(`${E}/unit-crews`),
  shelters: (api: ApiClient) => api.get<ShelterRead[]>(`${E}/shelters`),
  createShelter: (api: ApiClient, body: ShelterCreate) => api.post<ShelterRead>(`${E}/shelters`, body),
  updateShelter: (api: ApiClient, id: string, body: Record<string, unknown>) =>
    api.patch<ShelterRead>(`${E}/shelters/${q(id)}`, body),
  checkIn: (api: ApiClient, shelterId: string, body: CheckIn) =>
    api.post<CheckInResult>(`${E}/shelters/${q(shelterId)}/check-ins`, body),
  checkOut: (api: ApiClient, evacueeId: string) =>
    api.post<EvacueeRead>(`${E}/evacuees/${q(evacueeId)}/check-out`),
  evacuees: (api: ApiClient, shelterId: string) => api.get<EvacueeRead[]>(`${E}/shelters/${q(shelterId)}/evacuees`),
  findEvacuees: (api: ApiClient, text: string) => api.get<EvacueeRead[]>(`${E}/evacuees/search?q=${q(text)}`),
  occupancy: (api: ApiClient, shelterId: string) =>
    api.get<OccupancyPoint[]>(`${E}/shelters/${q(shelterId)}/occupancy`),
  items: (api: ApiClient) => api.get<ItemRead[]>(`${E}/items`),
  createItem: (api: ApiClient, body: Record<string, unknown>) => api.post<ItemRead>(`${E}/items`, body),
  locations: (api: ApiClient) => api.get<LocationRead[]>(`${E}/locations`),
  createLocation: (api: ApiClient, body: Record<string, unknown>) => api.post<LocationRead>(`${E}/locations`, body),
  stock: (api: ApiClient) => api.get<StockRead[]>(`${E}/stock`),
  movements: (api: ApiClient) => api.get<MovementRead[]>(`${E}/movements`),
  move: (api: ApiClient, body: MovementCreate) => api.post<MovementRead[]>(`${E}/movements`, body),
  requests: (api: ApiClient) => api.get<RequestRead[]>(`${E}/supply-requests`),
  createRequest: (api: ApiClient, body: Record<string, unknown>) => api.post<RequestRead>(`${E}/supply-requests`, body),
  fulfil: (api: ApiClient, id: string, fromLocationId: string) =>
    api.post<RequestRead>(`${E}/supply-requests/${q(id)}/fulfil`, { from_location_id: fromLocationId }),
  stockAlerts: (api: ApiClient) => api.get<StockAlertRead[]>(`${E}/stock-alerts`),
  alerts: (api: ApiClient) => api.get<PublicAlertRead[]>(`${E}/alerts`),
  publish: (api: ApiClient, body: PublicAlertCompose) => api.post<PublicAlertRead>(`${E}/alerts`, body),
  updateAlert: (api: ApiClient, threadId: string, body: PublicAlertCompose) =>
    api.post<PublicAlertRead>(`${E}/alerts/${q(threadId)}/update`, body),
  cancelAlert: (api: ApiClient, threadId: string, note: string) =>
    api.post<PublicAlertRead>(`${E}/alerts/${q(threadId)}/cancel`, { note }),
  feeds: (api: ApiClient) => api.get<FeedStatus[]>(`${E}/hazard-feeds`),
  createFeed: (api: ApiClient, body: Record<string, unknown>) => api.post<FeedStatus>(`${E}/hazard-feeds`, body),
  refreshFeed: (api: ApiClient, id: string) => api.post<FeedStatus>(`${E}/hazard-feeds/${q(id)}/refresh`),
  search: (api: ApiClient, text: string, kind?: string) =>
    api.get<SearchResults>(`${E}/search?q=${q(text)}${kind ? `&kind=${q(kind)}` : ""}&limit=30`),
  activity: (api: ApiClient, subject: string, id?: string | null) =>
    api.get<ActivityRead[]>(`${E}/activity?subject=${q(subject)}${id ? `&subject_id=${q(id)}` : ""}`),
  teams: (api: ApiClient) => api.get<TeamRead[]>(`${E}/teams`),
  createTeam: (api: ApiClient, name: string) => api.post<TeamRead>(`${E}/teams`, { name }),
  /** Team membership is the person's team_id: null takes them out of their team. */
  setTeam: (api: ApiClient, personId: string, teamId: string | null) =>
    api.patch<PersonRead>(`${E}/people/${q(personId)}`, { team_id: teamId }),
  layer: (api: ApiClient, name: "shelters" | "resources" | "alert-areas" | "hazards") =>
    api.get<GeoCollection>(`/api/map/${name}`),
};

/** Upload a file (multipart) to an import endpoint; problems come back as ApiError with rows. */
export async function upload<T>(api: ApiClient, path: string, file: File): Promise<T> {
  const body = new FormData();
  body.append("file", file);
  const token = await api.token();
  const res = await fetch(path, { method: "POST", body, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const json = (await res.json().catch(() => ({}))) as { detail?: string; errors?: { row?: number; column?: string; message?: string }[] };
  if (!res.ok) {
    const rows = (json.errors ?? []).slice(0, 10).map((e) => `row ${e.row}${e.column ? ` (${e.column})` : ""}: ${e.message}`);
    throw new ApiError(res.status, [json.detail ?? res.statusText, ...rows].join("\n"));
  }
  return json as T;
}

/** Download an authenticated file (CSV export) under `name`. */
export async function download(api: ApiClient, path: string, name: string): Promise<void> {
  const token = await api.token();
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new ApiError(res.status, res.statusText);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

export function problemText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A form field as text ("" when absent or a file). */
export function text(f: FormData, name: string): string {
  const v = f.get(name);
  return typeof v === "string" ? v : "";
}

/** A form field as text, or null when empty. */
export function opt(f: FormData, name: string): string | null {
  return text(f, name).trim() || null;
}
