/* Shapes of the API. Those of landed endpoints come from the server's OpenAPI schema
 * (schema.d.ts, generated in the build); the others follow the documented shapes of the issues
 * still in progress and live in `pending.ts` until their endpoints land. */
import type { components } from "./schema";

type S = components["schemas"];
export type TokenPair = S["TokenPair"];
export type Me = S["Me"];
export type IncidentRead = S["IncidentRead"];
export type IncidentSummary = S["IncidentSummary"];
export type IncidentCreate = S["IncidentCreate"];
export type IncidentUpdate = S["IncidentUpdate"];
export type IncidentStatus = IncidentRead["status"];
export type PatientRead = S["PatientRead"];
export type IncidentPage = S["Page_IncidentSummary_"];
