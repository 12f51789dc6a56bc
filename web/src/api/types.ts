/* Shapes of the API, from the server's OpenAPI schema (schema.d.ts, generated in the build). */
import type { components } from "./schema";

type S = components["schemas"];
export type TokenPair = S["TokenPair"];
export type SessionToken = S["SessionToken"];
export type PasswordPolicy = S["PasswordPolicy"];
export type Me = S["Me"];
export type IncidentRead = S["IncidentRead"];
export type IncidentSummary = S["IncidentSummary"];
export type IncidentCreate = S["IncidentCreate"];
export type IncidentUpdate = S["IncidentUpdate"];
export type IncidentStatus = IncidentRead["status"];
export type PatientRead = S["PatientRead"];
export type IncidentPage = S["Page_IncidentSummary_"];
export type UnitRead = S["UnitRead"];
export type HospitalRead = S["HospitalRead"];
export type HospitalUpdate = S["HospitalUpdate"];
export type RecommendationRead = S["RecommendationRead"];
export type RankedUnitRead = S["RankedUnitRead"];
export type DestinationRecommendation = S["DestinationRecommendation"];
export type DestinationRead = S["DestinationRead"];
export type AssignmentRead = S["AssignmentRead"];
export type ClinicalFindings = S["ClinicalFindings"];
export type NeedRead = S["NeedRead"];
export type UnitCreate = S["UnitCreate"];
export type HospitalCreate = S["HospitalCreate"];
export type UnitStatus = UnitRead["status"];
export type Condition = NonNullable<NeedRead["condition"]>;
export type UserRead = S["UserRead"];
export type LatestVitals = S["LatestVitals"];
export type RiskRead = S["RiskRead"];
export type GeocodeHitRead = S["GeocodeHitRead"];
export type VitalsHistory = S["VitalsHistory"];
export type VitalsReadingRead = S["VitalsReading"];
// The `vitals:<patient_id>` channel's messages by type (`vitals`, `artefacts`, `risk`): the
// readings of a `vitals` push have the history's schema, VitalsReading; a `risk` push is a
// RiskRead, as the latest view and the history return it.
export type VitalsPush = S["VitalsPush"];
export type ArtefactsPush = S["ArtefactsPush"];
export type ArtefactRead = S["ArtefactRead"];
/** One reading as the monitor shows it: a history item or a pushed one (the same schema), or
 * the current values the monitor assembles from several (no single device, maybe no flags). */
export type VitalsReading = Omit<VitalsReadingRead, "device_id" | "artefacts"> & {
  device_id?: string;
  /** Probable artefacts in this reading: shown as such, never dropped. */
  artefacts?: { field: string; kind: string }[] | null;
};
export type TriageRequest = S["TriageRequest"];
export type TriageResponse = S["TriageResponse"];
export type AlertRead = S["AlertRead"];
export type AlertPage = S["Page_AlertRead_"];
export type HandoffRead = S["HandoffRead"];
export type HandoffPage = S["Page_HandoffRead_"];
export type FeedEntryRead = S["FeedEntryRead"];
export type HandoffStatus = HandoffRead["status"];
export type AtmistRecord = S["AtmistRecord"];
export type Assessment = S["Assessment"];
// Notifications and on-call paging.
export type ContactPointRead = S["ContactPointRead"];
export type ContactPointCreated = S["ContactPointCreated"];
export type PreferenceRead = S["PreferenceRead"];
export type OnCallTeamRead = S["OnCallTeamRead"];
export type ScheduleRead = S["ScheduleRead"];
export type OnCallShiftRead = S["OnCallShiftRead"];
export type OnCallRead = S["OnCallRead"];
export type PolicyRead = S["PolicyRead"];
export type PolicyCreate = S["PolicyCreate"];
export type StepIn = S["StepIn"];
export type PageRead = S["PageRead"];
export type NotificationRead = S["NotificationRead"];
export type InboxItem = S["InboxItem"];
export type DirectoryRead = S["DirectoryRead"];
export type TemplateRead = S["TemplateRead"];
export type PreviewRead = S["PreviewRead"];
export type AckResult = S["AckResult"];
// What the ED reads of a handoff: the record merged with its updates (server: handoffs/picture.py).
export type ClinicalPicture = S["ClinicalPicture"];
export type VitalSigns = S["VitalSigns"];
export type Treatment = S["Treatment"];
export type NoteRead = S["NoteRead"];
export type HandoffNews2 = S["HandoffNews2Read"];
// The crew view (issue #23).
export type CrewAssignment = S["CrewAssignment"];
export type CrewIncident = S["CrewIncident"];
export type AttachmentRead = S["AttachmentRead"];
