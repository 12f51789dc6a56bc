/// <reference types="node" />
// @vitest-environment node
/* The `emsync/text-only` lint rule, run through the project's real ESLint config (typed), on
 * probe files written into src/ for the duration of the test. */
import { ESLint } from "eslint";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

// A wait for ESLint's typed program of the whole project, not a timing check: 20 s at load 9,
// 70-80 s at load 16-20 on two cores, where the 60 s it had ran out.
const LINT_TIMEOUT_MS = 300_000;

const root = fileURLToPath(new URL("../..", import.meta.url));
const written: string[] = [];
afterAll(() => {
  for (const f of written) rmSync(f, { force: true });
});

async function textOnlyMessages(name: string, code: string): Promise<string[]> {
  const path = fileURLToPath(new URL(`./${name}`, import.meta.url));
  writeFileSync(path, code);
  written.push(path);
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintFiles([path]);
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === "emsync/text-only")
    .map((m) => m.message);
}

it("refuses every HTML sink and a Leaflet string tooltip, popup or divIcon", async () => {
  const found = await textOnlyMessages(
    "probeBad.tsx",
    `import L from "leaflet";
export function Bad({ label }: { label: string }) {
  const el = document.createElement("div");
  el.innerHTML = label;
  el.insertAdjacentHTML("beforeend", label);
  const marker = L.circleMarker([0, 0]);
  marker.bindTooltip(label);
  marker.bindPopup(\`<b>\${label}</b>\`);
  marker.bindTooltip(() => label);
  L.divIcon({ html: label });
  return <div dangerouslySetInnerHTML={{ __html: label }} />;
}
`,
  );
  expect(found).toHaveLength(7);
}, LINT_TIMEOUT_MS);

it("accepts elements whose text is set as text", async () => {
  const found = await textOnlyMessages(
    "probeGood.tsx",
    `import L from "leaflet";
export function good(label: string): void {
  const span = document.createElement("span");
  span.textContent = label;
  L.circleMarker([0, 0]).bindTooltip(span);
  L.circleMarker([0, 0]).bindPopup(() => span);
}
`,
  );
  expect(found).toEqual([]);
}, LINT_TIMEOUT_MS);
