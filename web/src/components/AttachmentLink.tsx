/* An attachment of a handoff (photo, ECG) shown where it is read: fetched with the bearer token
 * (an <img src> would send none), shown as a thumbnail for images and as a link for a PDF. The
 * object URL is revoked when the element goes. */
import { useEffect, useState } from "react";
import type { AttachmentRead } from "../api/types";
import { useApp } from "../app/context";

export function AttachmentLink({ handoffId, attachment }: { handoffId: string; attachment: AttachmentRead }) {
  const { api } = useApp();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    let made: string | null = null;
    api.blob(`/api/handoffs/${encodeURIComponent(handoffId)}/attachments/${encodeURIComponent(attachment.id)}`).then(
      (b) => {
        made = URL.createObjectURL(b);
        if (live) setUrl(made);
        else URL.revokeObjectURL(made);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [api, handoffId, attachment.id]);
  const label = `${attachment.kind === "ecg" ? "ECG" : "Photo"}${attachment.name ? `: ${attachment.name}` : ""} (${Math.ceil(attachment.size / 1024)} kB)`;
  if (failed) return <span className="muted small">{label} — could not be opened</span>;
  if (!url) return <span className="muted small">{label} — loading…</span>;
  return (
    <a href={url} target="_blank" rel="noreferrer" className="attachment" data-testid="attachment">
      {attachment.media_type.startsWith("image/") && <img src={url} alt={label} className="thumb" />}
      <span className="small">{label}</span>
    </a>
  );
}
