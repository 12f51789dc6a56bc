import type { AssignmentRead, UnitRead } from "../api/types";

/** An assignment the server has accepted, until the pushes that report it have arrived.
 *
 * Assign's answer already carries the incident's new status and the unit as assigned, but the
 * board learns of both from two separate pushes (the incident's, the units list's) that can come
 * in either order and some time apart. Waiting for them made the panel change shape twice after
 * the click, the second time under the dispatcher's next click (the Cancel button moved up as
 * "Recommended units" gave way to "Units on this incident"). With the answer applied at once the
 * panel changes shape once, right after the click, and the pushes then change nothing visible. */
export interface PendingAssignment {
  /** The incident's status when Assign was clicked: a push has arrived once it differs. */
  from: string;
  status: string;
  unit: UnitRead;
}

export function pendingFrom(status: string, answer: AssignmentRead): PendingAssignment {
  return { from: status, status: answer.incident_status, unit: answer.unit };
}

/** The status to show: the assignment's until the incident's own push has moved it on. */
export function shownStatus(status: string, pending: PendingAssignment | null): string {
  return pending && status === pending.from ? pending.status : status;
}

/** True when the units list does not yet hold the assigned unit as the answer gave it. */
function unitBehind(units: readonly UnitRead[], pending: PendingAssignment): boolean {
  const listed = units.find((u) => u.id === pending.unit.id);
  return !listed || Date.parse(listed.updated_at) < Date.parse(pending.unit.updated_at);
}

/** The units on the incident: the list's, with the assigned unit as the answer gave it while the
 * list is behind (a newer copy in the list, whatever it says, wins). */
export function unitsOn(incidentId: string, units: readonly UnitRead[], pending: PendingAssignment | null): UnitRead[] {
  const listed = units.filter((u) => u.incident_id === incidentId);
  if (!pending || !unitBehind(units, pending)) return listed;
  return [...listed.filter((u) => u.id !== pending.unit.id), pending.unit];
}

/** Both pushes have arrived: the pending assignment has nothing left to add. */
export function settled(status: string, units: readonly UnitRead[], pending: PendingAssignment): boolean {
  return status !== pending.from && !unitBehind(units, pending);
}
