/* The unit lifecycle as the crew's status keys (pure). The server's table
 * (dispatch/lifecycle.py) decides; this copy only says which keys to offer. 'Dispatched' is no
 * key: a unit is dispatched by the dispatcher's assignment, never by its crew. */
import type { UnitStatus } from "../../api/types";
import type { QueuedAction } from "./queue";

export const STATUS_KEYS: { status: UnitStatus; label: string }[] = [
  { status: "en_route", label: "En route" },
  { status: "on_scene", label: "On scene" },
  { status: "transporting", label: "Transporting" },
  { status: "at_hospital", label: "At hospital" },
  { status: "available", label: "Available" },
  { status: "out_of_service", label: "Out of service" },
];

const ALLOWED: Record<UnitStatus, UnitStatus[]> = {
  available: ["out_of_service"],
  dispatched: ["en_route"],
  en_route: ["on_scene"],
  // 'available' from on scene: treated without transport.
  on_scene: ["transporting", "available"],
  transporting: ["at_hospital"],
  at_hospital: ["available"],
  out_of_service: ["available"],
};

export function canMove(from: UnitStatus, to: UnitStatus): boolean {
  return ALLOWED[from].includes(to);
}

export const STATUS_PATH = "/api/crew/status";

/** The status the unit will have once every queued tap is sent: the newest queued one. */
export function expectedStatus(server: UnitStatus, pending: QueuedAction[]): UnitStatus {
  let status = server;
  for (const a of pending) {
    if (a.path === STATUS_PATH && a.body.kind === "json") status = (a.body.value as { status: UnitStatus }).status;
  }
  return status;
}

export function statusLabel(status: string): string {
  return status.replace(/_/g, " ");
}
