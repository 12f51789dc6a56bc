/* The intake agents' records the dashboard works with: the ED bed board, legal cases and their
 * custody chain, clinicians' slots and bookings (typed from the OpenAPI schema). */
import type { ApiClient } from "./client";
import type { components } from "./schema";

type S = components["schemas"];
export type BedBoard = S["BedBoard"];
export type BedRead = S["BedRead"];
export type LegalCaseRead = S["LegalCaseRead"];
export type LegalCaseUpdate = S["LegalCaseUpdate"];
export type CustodyNoteCreate = S["CustodyNoteCreate"];
export type ClinicianRead = S["ClinicianRead"];
export type SlotRead = S["SlotRead"];
export type BookingRead = S["BookingRead"];

const q = encodeURIComponent;

export const beds = {
  board: (api: ApiClient, hospitalId: string) =>
    api.get<BedBoard>(`/api/intake/beds?hospital_id=${q(hospitalId)}`),
  create: (api: ApiClient, body: S["BedCreate"]) => api.post<BedRead>("/api/intake/beds", body),
  move: (api: ApiClient, bed: BedRead, status: BedRead["status"]) =>
    api.patch<BedRead>(`/api/intake/beds/${q(bed.id)}`, { status, version: bed.version }),
  assign: (api: ApiClient, bedId: string, acuity: number | null) =>
    api.post<BedRead>(`/api/intake/beds/${q(bedId)}/assign`, { acuity }),
  release: (api: ApiClient, bedId: string) =>
    api.post<BedRead>(`/api/intake/beds/${q(bedId)}/release`),
};

export const legalCases = {
  list: (api: ApiClient, status?: string) =>
    api.get<LegalCaseRead[]>(`/api/intake/legal-cases${status ? `?status=${q(status)}` : ""}`),
  get: (api: ApiClient, id: string) => api.get<LegalCaseRead>(`/api/intake/legal-cases/${q(id)}`),
  update: (api: ApiClient, id: string, body: LegalCaseUpdate) =>
    api.patch<LegalCaseRead>(`/api/intake/legal-cases/${q(id)}`, body),
  addCustody: (api: ApiClient, id: string, body: CustodyNoteCreate) =>
    api.post<LegalCaseRead>(`/api/intake/legal-cases/${q(id)}/custody`, body),
};

export const clinics = {
  clinicians: (api: ApiClient) => api.get<ClinicianRead[]>("/api/intake/clinicians"),
  addClinician: (api: ApiClient, body: S["ClinicianCreate"]) =>
    api.post<ClinicianRead>("/api/intake/clinicians", body),
  addAvailability: (api: ApiClient, clinicianId: string, body: S["AvailabilityCreate"]) =>
    api.post<SlotRead[]>(`/api/intake/clinicians/${q(clinicianId)}/availability`, body),
  slots: (api: ApiClient, specialty?: string) =>
    api.get<SlotRead[]>(`/api/intake/slots${specialty ? `?specialty=${q(specialty)}` : ""}`),
  book: (api: ApiClient, slotId: string, reason: string) =>
    api.post<BookingRead>("/api/intake/bookings", { slot_id: slotId, reason }),
  bookings: (api: ApiClient) => api.get<BookingRead[]>("/api/intake/bookings"),
  cancel: (api: ApiClient, id: string) =>
    api.post<BookingRead>(`/api/intake/bookings/${q(id)}/cancel`),
  ics: (api: ApiClient, id: string) => api.file(`/api/intake/bookings/${q(id)}/calendar.ics`),
};

/** Offer a Blob as a download named `name`. */
export function saveFile(blob: Blob, name: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  URL.revokeObjectURL(a.href);
}
