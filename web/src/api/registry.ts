/* The person registry endpoints the dashboard calls, typed from the OpenAPI schema. */
import type { ApiClient } from "./client";
import type { components } from "./schema";

type S = components["schemas"];
export type RegisteredPerson = S["RegisteredPerson"];
export type PersonRegistration = S["PersonRegistration"];
export type RegistrationResult = S["RegistrationResult"];
export type SearchHit = S["SearchHit"];
export type PersonSummary = S["PersonSummary"];
export type CandidateRead = S["CandidateRead"];
export type ReviewRead = S["ReviewRead"];
export type MergeRead = S["MergeRead"];
export type LinkRead = S["LinkRead"];
export type Chart = S["Chart"];
export type EntryRead = S["EntryRead"];
export type EntryResult = S["EntryResult"];
export type MedicationCheck = S["MedicationCheck"];
export type AllergyConflict = S["AllergyConflict"];
export type HandoffMedicationCheck = S["HandoffMedicationCheck"];
export type MedicationConflict = S["MedicationConflict"];

const q = encodeURIComponent;

export interface PersonQuery {
  identifier?: string;
  phone?: string;
  given_name?: string;
  family_name?: string;
  birth_date?: string;
}

export const registry = {
  search: (api: ApiClient, query: PersonQuery) => {
    const params = Object.entries(query)
      .filter(([, v]) => v)
      .map(([k, v]) => `${k}=${q(String(v))}`)
      .join("&");
    return api.get<SearchHit[]>(`/api/persons?${params}`);
  },
  register: (api: ApiClient, body: PersonRegistration) =>
    api.post<RegistrationResult>("/api/persons", body),
  chart: (api: ApiClient, id: string) => api.get<Chart>(`/api/persons/${q(id)}/chart`),
  merges: (api: ApiClient, id: string) => api.get<MergeRead[]>(`/api/persons/${q(id)}/merges`),
  merge: (api: ApiClient, survivorId: string, mergedId: string, reason: string) =>
    api.post<MergeRead>(`/api/persons/${q(survivorId)}/merges`, { merged_id: mergedId, reason }),
  unmerge: (api: ApiClient, mergeId: string, reason: string) =>
    api.post<MergeRead>(`/api/registry/merges/${q(mergeId)}/undo`, { reason }),
  reviews: (api: ApiClient) => api.get<ReviewRead[]>("/api/registry/reviews"),
  decide: (api: ApiClient, reviewId: string, samePerson: boolean, reason: string) =>
    api.post<ReviewRead>(`/api/registry/reviews/${q(reviewId)}/decision`, {
      same_person: samePerson,
      reason,
    }),
  record: (api: ApiClient, personId: string, entry: Record<string, unknown>) =>
    api.post<EntryResult>(`/api/persons/${q(personId)}/entries`, entry),
  checkMedication: (api: ApiClient, personId: string, substance: string) =>
    api.get<MedicationCheck>(`/api/persons/${q(personId)}/medication-check?substance=${q(substance)}`),
  /** A handoff's medications against its written allergies and the linked person's record. */
  checkHandoff: (api: ApiClient, handoffId: string) =>
    api.get<HandoffMedicationCheck>(`/api/persons/handoff-checks/${q(handoffId)}`),
  linkPatient: (api: ApiClient, personId: string, incidentId: string, patientId: string) =>
    api.post<LinkRead>(`/api/persons/${q(personId)}/links`, {
      incident_id: incidentId,
      patient_id: patientId,
    }),
  exportFhir: (api: ApiClient, personId: string) =>
    api.get<Record<string, unknown>>(`/api/persons/${q(personId)}/fhir`),
};
