import L from "leaflet";
import { expect, it } from "vitest";
import { textLabel } from "./MapView";

it("shows a label with markup in it as text: no element, no handler runs", () => {
  const payload = `<img src=x onerror="window.__xss=1">Chest pain`;
  const host = document.createElement("div");
  document.body.append(host);
  const tooltip = L.tooltip().setContent(textLabel(payload));
  // Leaflet fills its container from the content on update: with an element it appends it.
  const map = L.map(host).setView([60.17, 24.94], 14);
  tooltip.setLatLng([60.17, 24.94]).addTo(map);
  const el = tooltip.getElement();
  expect(el?.querySelector("img")).toBeNull();
  expect(el?.textContent).toBe(payload);
  map.remove();
});
