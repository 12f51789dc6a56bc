/* One offline queue per page load, sending through the API client; it flushes when the browser
 * comes back online and, while anything waits, every few seconds (a reconnect the browser did
 * not announce). */
import { useEffect, useMemo, useState } from "react";
import type { ApiClient } from "../../api/client";
import { IndexedDbStore, OfflineQueue, type QueueState } from "./queue";
import { apiSender } from "./send";

const RETRY_MS = 5_000;
let shared: OfflineQueue | null = null;

function queueFor(api: ApiClient): OfflineQueue {
  shared ??= new OfflineQueue(new IndexedDbStore(), apiSender(api), () => api.current?.username ?? null);
  return shared;
}

export function useCrewQueue(api: ApiClient): { queue: OfflineQueue; state: QueueState; online: boolean } {
  const queue = useMemo(() => queueFor(api), [api]);
  const [state, setState] = useState<QueueState>(queue.state);
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => queue.subscribe(setState), [queue]);
  useEffect(() => {
    void queue.load().then(() => queue.flush());
    const up = () => {
      setOnline(true);
      void queue.flush();
    };
    const down = () => setOnline(false);
    window.addEventListener("online", up);
    window.addEventListener("offline", down);
    return () => {
      window.removeEventListener("online", up);
      window.removeEventListener("offline", down);
    };
  }, [queue]);
  const waiting = state.pending.length > 0;
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => void queue.flush(), RETRY_MS);
    return () => clearInterval(timer);
  }, [queue, waiting]);
  return { queue, state, online };
}
