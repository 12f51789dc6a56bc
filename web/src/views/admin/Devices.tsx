/* Devices: bedside and ambulance monitors, wearables and GPS units that publish sealed telemetry.
 * Register one (its key is shown once), bind it to a patient (its readings become theirs),
 * rotate its key (the new key shown once; the old one stays accepted for the grace period),
 * or revoke a lost device (every key refused from now on). */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { ApiError, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import type { IncidentRead, IncidentSummary } from "../../api/types";
import { useApp } from "../../app/context";
import { Field, OnceSecret, Status, useSubmit, when } from "./common";

type S = components["schemas"];
type DeviceRead = S["DeviceRead"];
type ProvisionedKey = S["ProvisionedKey"];
const TYPES = ["monitor", "wearable", "ambulance_monitor", "ambulance_gps"] as const;
const q = encodeURIComponent;

export function Devices() {
  const { api } = useApp();
  const [devices, setDevices] = useState<DeviceRead[]>([]);
  const [incidents, setIncidents] = useState<IncidentSummary[]>([]);
  const [details, setDetails] = useState<Record<string, IncidentRead>>({});
  const [secret, setSecret] = useState<{ title: string; key: ProvisionedKey } | null>(null);
  const [binding, setBinding] = useState<string | null>(null);

  const reload = useCallback(() => {
    api.get<{ items: DeviceRead[] }>("/api/telemetry/devices?limit=200").then((p) => setDevices(p.items), () => undefined);
  }, [api]);
  useEffect(reload, [reload]);
  useEffect(() => {
    api
      .get<{ items: IncidentSummary[] }>("/api/incidents?limit=100&status=new&status=triaged&status=dispatched&status=on_scene&status=transporting&status=at_hospital")
      .then((p) => setIncidents(p.items), () => undefined);
  }, [api]);
  // The incidents of bound devices: their patients' labels.
  const wanted = [...new Set(devices.map((d) => d.incident_id).filter((id): id is string => !!id))];
  useEffect(() => {
    for (const id of wanted)
      if (!details[id]) api.get<IncidentRead>(`/api/incidents/${q(id)}`).then((i) => setDetails((d) => ({ ...d, [id]: i })), () => undefined);
  }, [api, wanted.join(","), details]); // eslint-disable-line react-hooks/exhaustive-deps

  const act = useSubmit(reload);
  const patientOf = (d: DeviceRead) => {
    if (!d.patient_id) return "—";
    const incident = d.incident_id ? details[d.incident_id] : undefined;
    const patient = incident?.patients.find((p) => p.id === d.patient_id);
    return patient ? `${patient.label}${patient.name ? ` (${patient.name})` : ""} · incident #${incident?.number}` : `patient ${d.patient_id.slice(0, 8)}`;
  };
  async function rotate(d: DeviceRead) {
    await act.run(async (api) => {
      const key = await api.post<ProvisionedKey>(`/api/telemetry/devices/${q(d.id)}/keys/rotate`, {});
      setSecret({ title: `New key for ${d.id}`, key });
    }, `New key for ${d.id}; the old key is accepted for the grace period.`);
  }

  return (
    <div className="admin-split">
      <section className="panel" aria-labelledby="devices-title">
        <h2 id="devices-title">Devices ({devices.length})</h2>
        <table className="table" data-testid="admin-devices">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Bound to</th>
              <th scope="col">Key</th>
              <th scope="col">Last seen</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr key={d.id} data-testid={`device-${d.id}`}>
                <td>
                  <strong>{d.id}</strong>
                  <div className="muted small">
                    {d.type.replace(/_/g, " ")}
                    {d.label ? ` · ${d.label}` : ""}
                  </div>
                </td>
                <td>{d.revoked_at ? <span className="warn">revoked {when(d.revoked_at)}</span> : patientOf(d)}</td>
                <td className="small">
                  {d.active_key_id === null ? "—" : `#${d.active_key_id}`} {d.algorithm}
                  {d.keys.filter((k) => k.expires_at && !k.revoked_at && k.key_id !== d.active_key_id).map((k) => (
                    <div key={k.key_id} className="muted">
                      #{k.key_id} accepted until {when(k.expires_at)}
                    </div>
                  ))}
                </td>
                <td className="small">{when(d.last_seen_at)}</td>
                <td>
                  {!d.revoked_at && (
                    <div className="actions">
                      <button type="button" aria-label={`Bind ${d.id} to a patient`} onClick={() => setBinding(binding === d.id ? null : d.id)}>
                        Bind…
                      </button>
                      {d.patient_id && (
                        <button type="button" disabled={act.busy} aria-label={`Unbind ${d.id}`} onClick={() => void act.run((api) => api.post(`/api/telemetry/devices/${q(d.id)}/unbind`), `${d.id} unbound.`)}>
                          Unbind
                        </button>
                      )}
                      <button type="button" disabled={act.busy} aria-label={`Rotate key of ${d.id}`} onClick={() => void rotate(d)}>
                        Rotate key
                      </button>
                      <button
                        type="button"
                        disabled={act.busy}
                        aria-label={`Revoke ${d.id}`}
                        onClick={() => {
                          if (window.confirm(`Revoke ${d.id}? Every key of the device is refused from now on.`))
                            void act.run((api) => api.post(`/api/telemetry/devices/${q(d.id)}/revoke`), `${d.id} revoked.`);
                        }}
                      >
                        Revoke
                      </button>
                    </div>
                  )}
                  {binding === d.id && (
                    <BindForm
                      device={d}
                      incidents={incidents}
                      onDone={() => {
                        setBinding(null);
                        reload();
                      }}
                    />
                  )}
                </td>
              </tr>
            ))}
            {devices.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No devices registered.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <Status message={act.message} />
      </section>
      <div>
        {secret && (
          <OnceSecret
            title={secret.title}
            secret={secret.key.key_hex}
            note={`Key #${secret.key.key_id}, ${secret.key.algorithm}, topic ${secret.key.topic}. Shown this once: load it into the device now.`}
            onDismiss={() => setSecret(null)}
          />
        )}
        <RegisterForm
          onRegistered={(key) => {
            setSecret({ title: `Key for ${key.device_id}`, key });
            reload();
          }}
        />
      </div>
    </div>
  );
}

function BindForm(props: { device: DeviceRead; incidents: IncidentSummary[]; onDone: () => void }) {
  const { api } = useApp();
  const [incidentId, setIncidentId] = useState(props.device.incident_id ?? "");
  const [patientId, setPatientId] = useState(props.device.patient_id ?? "");
  const [detail, setDetail] = useState<IncidentRead | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  // The Patient list is the chosen incident's: it waits for that incident to load (a Bind
  // before then would refuse the empty required choice with a browser tooltip only).
  const loading = incidentId !== "" && detail?.id !== incidentId && failed === null;
  const { message, errors, run, busy } = useSubmit(props.onDone);
  useEffect(() => {
    if (!incidentId) return;
    let live = true;
    api.get<IncidentRead>(`/api/incidents/${q(incidentId)}`).then(
      (i) => {
        // A slower answer for an incident chosen earlier does not replace the one chosen now.
        if (live) setDetail(i);
      },
      (err: unknown) => {
        if (live) setFailed(err instanceof ApiError ? err.message : "not loaded");
      },
    );
    return () => {
      live = false;
    };
  }, [api, incidentId]);
  const patients = detail && detail.id === incidentId ? detail.patients : [];
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    await run((api) => api.post(`/api/telemetry/devices/${q(props.device.id)}/bind`, { patient_id: patientId || null, incident_id: incidentId || null }), `${props.device.id} bound.`);
  }
  return (
    <form aria-busy={busy} className="form card small" aria-label={`Bind ${props.device.id}`} onSubmit={(e) => void submit(e)}>
      <Field label="Incident" error={errors.incident_id}>
        <select name="bind-incident" value={incidentId} onChange={(e) => { setIncidentId(e.target.value); setPatientId(""); setFailed(null); }}>
          <option value="">—</option>
          {props.incidents.map((i) => (
            <option key={i.id} value={i.id}>
              #{i.number} {i.address ?? i.chief_complaint}
            </option>
          ))}
        </select>
      </Field>
      {loading && <p role="status">Loading the incident's patients…</p>}
      {failed && <p className="error" role="alert">The incident could not be loaded: {failed}</p>}
      <fieldset className="bare" disabled={loading}>
      <Field label="Patient" error={errors.patient_id}>
        <select name="bind-patient" value={patientId} onChange={(e) => setPatientId(e.target.value)} required>
          <option value="">—</option>
          {patients.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
              {p.name ? ` (${p.name})` : ""}
            </option>
          ))}
        </select>
      </Field>
      <button type="submit" disabled={busy} className="primary">
        Bind
      </button>
      </fieldset>
      <Status message={message} />
    </form>
  );
}

function RegisterForm({ onRegistered }: { onRegistered: (key: ProvisionedKey) => void }) {
  const blank = { id: "", type: "monitor", label: "" };
  const [form, setForm] = useState(blank);
  const { message, errors, run, busy } = useSubmit(() => undefined);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    const body = { id: form.id, type: form.type, label: form.label || null };
    const registered = async (api: ApiClient) => onRegistered((await api.post<S["DeviceProvisioned"]>("/api/telemetry/devices", body)).key);
    if (await run(registered, `${form.id} registered.`)) setForm(blank);
  }
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form aria-busy={busy} className="form card" aria-labelledby="new-device" onSubmit={(e) => void submit(e)}>
      <h2 id="new-device">Register a device</h2>
      <Field label="Device id (also its MQTT topic)" error={errors.id}>
        <input name="device-id" required pattern="[A-Za-z0-9_\-]{1,64}" value={form.id} onChange={set("id")} />
      </Field>
      <div className="row2">
        <Field label="Type" error={errors.type}>
          <select name="device-type" value={form.type} onChange={set("type")}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Label" error={errors.label}>
          <input name="device-label" value={form.label} onChange={set("label")} />
        </Field>
      </div>
      <button type="submit" disabled={busy} className="primary">
        Register
      </button>
      <Status message={message} />
    </form>
  );
}
