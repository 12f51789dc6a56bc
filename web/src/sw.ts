/* EMsync service worker.
 *
 * The app shell (the built HTML, scripts, styles, icons: the list vite-plugin-pwa injects at
 * build time, with content hashes) is precached, so the dashboard opens and the crew view keeps
 * working without network; a page navigation is answered with the cached index.html. API calls
 * are never cached here: they carry patient data (`Cache-Control: no-store`), and the crew's
 * writes wait in the offline queue (views/crew/queue.ts), not in the worker.
 *
 * It also shows pages pushed through Web Push (RFC 8030/8291) and opens the acknowledgement
 * link or the paging screen when the notification is tapped. Text only. */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// Server routes that are not the dashboard's pages go to the network.
registerRoute(
  new NavigationRoute(createHandlerBoundToURL("/index.html"), {
    denylist: [/^\/api\//, /^\/ws/, /^\/health/, /^\/metrics/, /^\/docs/, /^\/redoc/, /^\/openapi\.json/],
  }),
);

// A new version takes over at once: the shell is a cache of the server's own files.
self.addEventListener("install", () => void self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

interface PushData {
  title?: string;
  body?: string;
  tag?: string;
  type?: string;
  url?: string;
  ack_url?: string;
}

self.addEventListener("push", (event) => {
  let data: PushData;
  try {
    data = event.data ? (event.data.json() as PushData) : {};
  } catch {
    data = { title: "EMsync", body: event.data ? event.data.text() : "" };
  }
  const actions = data.ack_url ? [{ action: "ack", title: "Acknowledge" }] : [];
  const options: NotificationOptions & { renotify?: boolean; actions?: { action: string; title: string }[] } = {
    body: data.body ?? "",
    tag: data.tag, // the same page step replaces, never duplicates, its notification
    renotify: true,
    requireInteraction: data.type === "clinical_alert" || data.type === "handoff_overdue",
    data: { url: data.url || "/paging", ack: data.ack_url || null },
    actions,
  };
  event.waitUntil(self.registration.showNotification(data.title || "EMsync", options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, ack } = (event.notification.data || {}) as { url?: string; ack?: string | null };
  const target = event.action === "ack" && ack ? ack : url || "/paging";
  event.waitUntil(self.clients.openWindow(target));
});
