/* EMsync service worker: shows pages pushed through Web Push (RFC 8030/8291) and opens the
 * acknowledgement link or the paging screen when the notification is tapped. Text only. */
self.addEventListener("push", (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: "EMsync", body: event.data ? event.data.text() : "" };
  }
  const actions = data.ack_url ? [{ action: "ack", title: "Acknowledge" }] : [];
  event.waitUntil(
    self.registration.showNotification(String(data.title || "EMsync"), {
      body: String(data.body || ""),
      tag: data.tag, // the same page step replaces, never duplicates, its notification
      renotify: true,
      requireInteraction: data.type === "clinical_alert" || data.type === "handoff_overdue",
      data: { url: data.url || "/paging", ack: data.ack_url || null },
      actions,
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, ack } = event.notification.data || {};
  const target = event.action === "ack" && ack ? ack : url || "/paging";
  event.waitUntil(self.clients.openWindow(target));
});
