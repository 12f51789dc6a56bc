/* Photos and ECGs from the phone's camera onto the handoff. Checked here for what the server
 * accepts (JPEG, PNG, PDF; the size limit) so the crew hears at once, then queued like every
 * action: the file waits in IndexedDB until it can be sent. */
import { useEffect, useState, type ChangeEvent } from "react";
import type { AttachmentRead, HandoffRead } from "../../api/types";
import { AttachmentLink } from "../../components/AttachmentLink";
import type { OfflineQueue, QueuedAction } from "./queue";

// The server's default EMSYNC_HANDOFFS__ATTACHMENT_MAX_BYTES; it checks the real limit and bytes.
const MAX_BYTES = 10 * 1024 * 1024;
const TYPES = ["image/jpeg", "image/png", "application/pdf"];

export function fileProblem(file: { type: string; size: number }): string | null {
  if (!TYPES.includes(file.type)) return `${file.type || "this file type"} cannot be sent: JPEG, PNG or PDF only`;
  if (file.size > MAX_BYTES) return `the file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${MAX_BYTES / 1048576} MB`;
  return null;
}

export function Attachments({ handoff, queue, pending }: { handoff: HandoffRead | null; queue: OfflineQueue; pending: QueuedAction[] }) {
  const [message, setMessage] = useState<string | null>(null);
  // What the queue has sent since the handoff was loaded (the server's answers).
  const [sent, setSent] = useState<AttachmentRead[]>([]);
  const path = handoff ? `/api/handoffs/${handoff.id}/attachments` : null;
  useEffect(
    () =>
      queue.onDone((action, response) => {
        if (action.path === path) setSent((s) => [...s, response as AttachmentRead]);
      }),
    [queue, path],
  );
  if (!handoff) return null;
  const open = handoff.status !== "cancelled" && handoff.status !== "handed_over";
  const waiting = pending.filter((a) => a.body.kind === "form" && a.path === path);
  const known = new Set((handoff.attachments ?? []).map((a) => a.id));
  const attached = [...(handoff.attachments ?? []), ...sent.filter((a) => !known.has(a.id))];

  async function picked(kind: "photo" | "ecg", e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file || !handoff) return;
    const problem = fileProblem(file);
    if (problem) {
      setMessage(problem);
      return;
    }
    setMessage(null);
    await queue.enqueue({
      label: `${kind === "ecg" ? "ECG" : "Photo"} ${file.name}`,
      method: "POST",
      path: `/api/handoffs/${handoff.id}/attachments`,
      body: { kind: "form", fields: { kind }, file: { field: "file", name: file.name, blob: file } },
    });
  }

  return (
    <section className="card crew-section" aria-labelledby="crew-attachments" data-testid="crew-attachments">
      <h2 id="crew-attachments">Photos and ECG</h2>
      {open && (
        <div className="camera">
          <label className="status-key">
            Photo
            <input type="file" name="photo" accept="image/*" capture="environment" onChange={(e) => void picked("photo", e)} />
          </label>
          <label className="status-key">
            ECG
            <input type="file" name="ecg" accept="image/*,application/pdf" capture="environment" onChange={(e) => void picked("ecg", e)} />
          </label>
        </div>
      )}
      {message && <p role="alert" className="error small">{message}</p>}
      <ul className="attachments">
        {waiting.map((a) => (
          <li key={a.id}>
            <PendingThumb action={a} />
          </li>
        ))}
        {attached.map((att) => (
          <li key={att.id} data-testid="attachment-sent">
            {/* The crew reads back its own draft; once sent, the file is the hospital's. */}
            {handoff.status === "draft" ? (
              <AttachmentLink handoffId={handoff.id} attachment={att} />
            ) : (
              <span className="small">
                {att.kind === "ecg" ? "ECG" : "Photo"}
                {att.name ? `: ${att.name}` : ""} — sent
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function PendingThumb({ action }: { action: QueuedAction }) {
  const blob = action.body.kind === "form" ? action.body.file.blob : null;
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!blob || !blob.type.startsWith("image/")) return;
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [blob]);
  return (
    <span className="attachment" data-testid="attachment-pending">
      {url && <img src={url} alt={action.label} className="thumb" />}
      <span className="small">{action.label} — waiting to send</span>
    </span>
  );
}
