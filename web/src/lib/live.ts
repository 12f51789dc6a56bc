/* Objects pushed over the WebSocket in their REST read schema (issue #15 item 2): an alert, an
 * incident, a handoff and a crew's assignment arrive as the REST read returns them, so a view
 * applies them as they are instead of asking the server again. */
import type { Me } from "../api/types";

export interface Versioned {
  id: string;
  updated_at: string;
}

/** `list` with `item` in place of the entry of the same id (added when new) while `keep` says
 * it belongs there, and without it otherwise. A push older than the entry held is ignored: the
 * pushes of two quick changes may arrive in either order. */
export function applyPushed<T extends Versioned>(list: readonly T[], item: T, keep: boolean): T[] {
  const at = list.findIndex((x) => x.id === item.id);
  const held = at >= 0 ? list[at] : undefined;
  if (held && Date.parse(held.updated_at) > Date.parse(item.updated_at)) return list.slice();
  if (!keep) return held ? list.filter((x) => x.id !== item.id) : list.slice();
  if (!held) return [...list, item];
  const next = list.slice();
  next[at] = item;
  return next;
}

// Hospital staff read incidents on a need-to-know basis (incidents/access.py): only those coming
// to their hospital, on that hospital's channel.
const HOSPITAL_STAFF = new Set(["clinician", "hospital_coordinator"]);

/** The incidents channel this account may follow, or null when it reads no incidents. */
export function incidentsChannel(me: Me | null): string | null {
  if (!me?.permissions.includes("incidents:read")) return null;
  if (HOSPITAL_STAFF.has(me.role)) return me.hospital_id ? `incidents:hospital:${me.hospital_id}` : null;
  return "incidents";
}

/** A crew's own unit's channel: its assignment, pushed whenever the unit or its call changes. */
export function crewChannel(me: Me | null): string | null {
  return me?.unit_id && me.permissions.includes("crew:unit") ? `incidents:unit:${me.unit_id}` : null;
}
