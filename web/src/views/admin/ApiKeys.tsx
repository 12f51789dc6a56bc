/* Machine API keys (integrations, devices publishing over HTTP): create one (its secret is shown
 * this once; the server keeps only a hash), see who has which, revoke one. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import type { ApiClient } from "../../api/client";
import { endpoints } from "../../api/endpoints";
import type { HospitalRead } from "../../api/types";
import type { components } from "../../api/schema";
import { useApp } from "../../app/context";
import { Field, OnceSecret, Status, useSubmit, when } from "./common";
import { ROLES } from "./People";

type ApiKeyRead = components["schemas"]["ApiKeyRead"];
type ApiKeyIssued = components["schemas"]["ApiKeyIssued"];
const KEY_ROLES = ["integration", "device", ...ROLES] as const;

export function ApiKeys() {
  const { api } = useApp();
  const [keys, setKeys] = useState<ApiKeyRead[]>([]);
  const [hospitals, setHospitals] = useState<HospitalRead[]>([]);
  const [issued, setIssued] = useState<ApiKeyIssued | null>(null);
  const reload = useCallback(() => {
    api.get<ApiKeyRead[]>("/api/api-keys").then(setKeys, () => undefined);
  }, [api]);
  useEffect(reload, [reload]);
  useEffect(() => void endpoints.hospitals(api).then(setHospitals, () => undefined), [api]);
  const revoke = useSubmit(reload);
  const create = useSubmit(reload);
  const [form, setForm] = useState({ name: "", role: "integration", hospital_id: "" });

  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    const body = { ...form, hospital_id: form.hospital_id || null };
    const issue = async (api: ApiClient) => setIssued(await api.post<ApiKeyIssued>("/api/api-keys", body));
    if (await create.run(issue, `Key ${form.name} created.`)) setForm({ name: "", role: "integration", hospital_id: "" });
  }
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  return (
    <div className="admin-split">
      <section className="panel" aria-labelledby="keys-title">
        <h2 id="keys-title">API keys ({keys.length})</h2>
        <table className="table" data-testid="admin-keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-testid={`key-${k.name}`}>
                <td>
                  <strong>{k.name}</strong>
                  {k.hospital_id && <span className="muted small"> · {hospitals.find((h) => h.id === k.hospital_id)?.name ?? "hospital"}</span>}
                </td>
                <td>{k.role.replace(/_/g, " ")}</td>
                <td className="small">{when(k.created_at)}</td>
                <td>
                  {k.revoked_at ? (
                    <span className="warn">revoked {when(k.revoked_at)}</span>
                  ) : (
                    <button
                      type="button"
                      disabled={revoke.busy}
                      aria-label={`Revoke key ${k.name}`}
                      onClick={() => {
                        if (window.confirm(`Revoke the key "${k.name}"? Whatever uses it stops working now.`))
                          void revoke.run((api) => api.request("DELETE", `/api/api-keys/${encodeURIComponent(k.id)}`), `Key ${k.name} revoked.`);
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {keys.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">
                  No API keys yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <Status message={revoke.message} />
      </section>
      <div>
        {issued && (
          <OnceSecret
            title={`Key for ${issued.name}`}
            secret={issued.key}
            note="Shown this once: the server keeps only its hash. Send it as the X-API-Key header."
            onDismiss={() => setIssued(null)}
          />
        )}
        <form aria-busy={create.busy} className="form card" aria-labelledby="new-key" onSubmit={(e) => void submit(e)}>
          <h2 id="new-key">New API key</h2>
          <Field label="Name (who or what uses it)" error={create.errors.name}>
            <input name="key-name" required value={form.name} onChange={set("name")} />
          </Field>
          <div className="row2">
            <Field label="Role" error={create.errors.role}>
              <select name="key-role" value={form.role} onChange={set("role")}>
                {KEY_ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r.replace(/_/g, " ")}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Hospital (optional)" error={create.errors.hospital_id}>
              <select name="key-hospital" value={form.hospital_id} onChange={set("hospital_id")}>
                <option value="">—</option>
                {hospitals.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.name}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <button type="submit" disabled={create.busy} className="primary">
            Create key
          </button>
          <Status message={create.message} />
        </form>
      </div>
    </div>
  );
}
