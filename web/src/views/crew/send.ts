/* How the crew's queued actions reach the server: through the API client (bearer token, silent
 * refresh) with the action's Idempotency-Key, and which answers mean "done", "refused" or
 * "try again later". */
import { ApiError, type ApiClient } from "../../api/client";
import type { ActionBody, QueuedAction, SendOutcome, Sender } from "./queue";

// Answers after which the same request may succeed later: the server's trouble, an expired
// session (refreshed on the next try), rate limiting, and the same key still running.
const LATER = new Set([401, 408, 425, 429]);

export function apiSender(api: ApiClient): Sender {
  return async (action: QueuedAction): Promise<SendOutcome> => {
    if (typeof navigator !== "undefined" && !navigator.onLine) return { kind: "later", message: "offline" };
    try {
      const response = await api.request<unknown>(action.method, action.path, bodyOf(action.body), {
        "Idempotency-Key": action.id,
      });
      return { kind: "done", response };
    } catch (e) {
      if (!(e instanceof ApiError)) return { kind: "later", message: "no network" };
      const running = e.status === 409 && (e.type ?? "").endsWith("/idempotency-key-in-use");
      if (e.status >= 500 || LATER.has(e.status) || running) return { kind: "later", message: e.message };
      return { kind: "refused", status: e.status, message: e.message };
    }
  };
}

function bodyOf(body: ActionBody): unknown {
  if (body.kind === "json") return body.value;
  const form = new FormData();
  for (const [k, v] of Object.entries(body.fields)) form.append(k, v);
  form.append(body.file.field, body.file.blob, body.file.name);
  return form;
}
