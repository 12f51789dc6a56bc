/* The hospital dashboard is a receiving client of its hospital's handoff feed: when it has shown
 * the feed's entries it acknowledges them, and the server marks the sent handoffs they cover as
 * delivered (the crew then sees "delivered", and the overdue-delivery watch stands down). */
import { useEffect } from "react";
import { useApp } from "../../app/context";

interface FeedPage {
  hospital_id: string;
  entries: { seq: number }[];
  last_seq: number;
}

/** Acknowledge `hospitalId`'s feed whenever `shown` changes (a newly loaded list). */
export function useFeedAck(hospitalId: string | null | undefined, shown: unknown): void {
  const { api, session, can } = useApp();
  const client = `dashboard-${(session?.username ?? "user").replace(/[^A-Za-z0-9._-]/g, "_")}`.slice(0, 64);
  useEffect(() => {
    if (!hospitalId || !shown || !can("handoffs:receive")) return;
    const q = `hospital_id=${encodeURIComponent(hospitalId)}&client_id=${encodeURIComponent(client)}&limit=1000`;
    api.get<FeedPage>(`/api/handoffs/feed?${q}`).then(
      (page) => {
        if (page.entries.length === 0) return;
        void api
          .post("/api/handoffs/feed/ack", { hospital_id: hospitalId, client_id: client, seq: page.last_seq })
          .catch(() => undefined);
      },
      () => undefined,
    );
  }, [api, can, client, hospitalId, shown]);
}
