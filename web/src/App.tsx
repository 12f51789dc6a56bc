import { Navigate, Route, Routes } from "react-router-dom";
import { NAV, Shell } from "./app/Shell";
import { useApp } from "./app/context";
import { Dispatch } from "./views/Dispatch";
import { Hospital } from "./views/Hospital";
import { Login } from "./views/Login";
import { Monitor, PatientHistory } from "./views/Monitor";
import { Triage } from "./views/Triage";

export function App() {
  const { session, me, can } = useApp();
  if (!session) return <Login />;
  const home = NAV.find((n) => can(n.perm))?.to;
  return (
    <Routes>
      <Route element={<Shell />}>
        <Route index element={home ? <Navigate to={home} replace /> : <Welcome ready={me !== null} />} />
        <Route path="dispatch" element={<Dispatch />} />
        <Route path="dispatch/:incidentId" element={<Dispatch />} />
        <Route path="triage" element={<Triage />} />
        <Route path="triage/:incidentId" element={<Triage />} />
        <Route path="monitor" element={<Monitor />} />
        <Route path="monitor/:patientId" element={<PatientHistory />} />
        <Route path="hospital" element={<Hospital />} />
        <Route path="*" element={<p>There is no page here.</p>} />
      </Route>
    </Routes>
  );
}

function Welcome({ ready }: { ready: boolean }) {
  return <p>{ready ? "Your role has no dashboard views." : "Loading…"}</p>;
}
