import { lazy, Suspense } from "react";
import { Route, Routes } from "react-router-dom";
import { Redirect } from "./app/Redirect";
import { NAV, Shell } from "./app/Shell";
import type { Me } from "./api/types";
import { useApp } from "./app/context";
import { AckLink } from "./views/AckLink";
import { Login } from "./views/Login";
import { Password } from "./views/Password";

// Each view (and its map or chart library) loads when first opened: the login page stays small.
const Dispatch = lazy(() => import("./views/Dispatch").then((m) => ({ default: m.Dispatch })));
const Hospital = lazy(() => import("./views/Hospital").then((m) => ({ default: m.Hospital })));
const Monitor = lazy(() => import("./views/Monitor").then((m) => ({ default: m.Monitor })));
const PatientHistory = lazy(() =>
  import("./views/Monitor").then((m) => ({ default: m.PatientHistory })),
);
const Admin = lazy(() => import("./views/admin/Admin").then((m) => ({ default: m.Admin })));
const AdminHome = lazy(() => import("./views/admin/Admin").then((m) => ({ default: m.AdminHome })));
const Places = lazy(() => import("./views/admin/Places").then((m) => ({ default: m.Places })));
const People = lazy(() => import("./views/admin/People").then((m) => ({ default: m.People })));
const ApiKeys = lazy(() => import("./views/admin/ApiKeys").then((m) => ({ default: m.ApiKeys })));
const Devices = lazy(() => import("./views/admin/Devices").then((m) => ({ default: m.Devices })));
const AdminHospitals = lazy(() => import("./views/admin/Hospitals").then((m) => ({ default: m.Hospitals })));
const AdminUnits = lazy(() => import("./views/admin/Units").then((m) => ({ default: m.Units })));
const RoadMap = lazy(() => import("./views/admin/RoadMap").then((m) => ({ default: m.RoadMap })));
const Audit = lazy(() => import("./views/admin/Audit").then((m) => ({ default: m.Audit })));
const Crew = lazy(() => import("./views/crew/Crew").then((m) => ({ default: m.Crew })));
const Triage = lazy(() => import("./views/Triage").then((m) => ({ default: m.Triage })));
const Paging = lazy(() => import("./views/Paging").then((m) => ({ default: m.Paging })));
const OnCall = lazy(() => import("./views/OnCall").then((m) => ({ default: m.OnCall })));
const MyNotifications = lazy(() =>
  import("./views/MyNotifications").then((m) => ({ default: m.MyNotifications })),
);
const Emergency = lazy(() => import("./views/emergency/Emergency").then((m) => ({ default: m.Emergency })));
const Resources = lazy(() => import("./views/emergency/Resources").then((m) => ({ default: m.Resources })));
const Roster = lazy(() => import("./views/emergency/Roster").then((m) => ({ default: m.Roster })));
const Shelters = lazy(() => import("./views/emergency/Shelters").then((m) => ({ default: m.Shelters })));
const Inventory = lazy(() => import("./views/emergency/Inventory").then((m) => ({ default: m.Inventory })));
const Alerts = lazy(() => import("./views/emergency/Alerts").then((m) => ({ default: m.Alerts })));
const EmergencyMap = lazy(() => import("./views/emergency/EmergencyMap").then((m) => ({ default: m.EmergencyMap })));
const Activity = lazy(() => import("./views/emergency/Activity").then((m) => ({ default: m.Activity })));
const IntakeBoard = lazy(() => import("./views/intake/IntakeBoard").then((m) => ({ default: m.IntakeBoard })));
const IntakeHealth = lazy(() => import("./views/intake/IntakeHealth").then((m) => ({ default: m.IntakeHealth })));
const IntakeSession = lazy(() => import("./views/intake/IntakeSession").then((m) => ({ default: m.IntakeSession })));
const Persons = lazy(() => import("./views/registry/Persons").then((m) => ({ default: m.Persons })));
const PersonChart = lazy(() => import("./views/registry/PersonChart").then((m) => ({ default: m.PersonChart })));
const Reviews = lazy(() => import("./views/registry/Reviews").then((m) => ({ default: m.Reviews })));
const BedBoard = lazy(() => import("./views/intake/BedBoard").then((m) => ({ default: m.BedBoard })));
const LegalCases = lazy(() => import("./views/intake/LegalCases").then((m) => ({ default: m.LegalCases })));
const Clinics = lazy(() => import("./views/intake/Clinics").then((m) => ({ default: m.Clinics })));
const Search = lazy(() => import("./views/emergency/Search").then((m) => ({ default: m.Search })));

export function App() {
  const { restored, session, me, can } = useApp();
  // An acknowledgement link from an e-mail or SMS works without logging in (signed, one-time).
  const ack = /^\/ack\/([^/]+)$/.exec(window.location.pathname);
  if (ack?.[1]) return <AckLink token={decodeURIComponent(ack[1])} />;
  if (!restored) return <p className="muted">Loading…</p>;
  if (!session) return <Login />;
  const home = homeOf(me, can);
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
    <Routes>
      <Route element={<Shell />}>
        <Route index element={home ? <Redirect to={home} /> : <p>Your role has no dashboard views.</p>} />
        <Route path="dispatch" element={<Dispatch />} />
        <Route path="dispatch/:incidentId" element={<Dispatch />} />
        <Route path="triage" element={<Triage />} />
        <Route path="triage/:incidentId" element={<Triage />} />
        <Route path="monitor" element={<Monitor />} />
        <Route path="monitor/:patientId" element={<PatientHistory />} />
        <Route path="hospital" element={<Hospital />} />
        <Route path="crew" element={<Crew />} />
        <Route path="admin" element={<Admin />}>
          <Route index element={<AdminHome />} />
          <Route path="places" element={<Places />} />
          <Route path="people" element={<People />} />
          <Route path="keys" element={<ApiKeys />} />
          <Route path="devices" element={<Devices />} />
          <Route path="hospitals" element={<AdminHospitals />} />
          <Route path="units" element={<AdminUnits />} />
          <Route path="map" element={<RoadMap />} />
          <Route path="audit" element={<Audit />} />
        </Route>
        <Route path="account/password" element={<Password />} />
        <Route path="paging" element={<Paging />} />
        <Route path="oncall" element={<OnCall />} />
        <Route path="me/notifications" element={<MyNotifications />} />
        <Route path="emergency" element={<Emergency />}>
          <Route index element={<Redirect to="shelters" />} />
          <Route path="resources" element={<Resources />} />
          <Route path="roster" element={<Roster />} />
          <Route path="shelters" element={<Shelters />} />
          <Route path="inventory" element={<Inventory />} />
          <Route path="alerts" element={<Alerts />} />
          <Route path="map" element={<EmergencyMap />} />
          <Route path="search" element={<Search />} />
          <Route path="activity" element={<Activity />} />
        </Route>
        <Route path="intake" element={<IntakeBoard />} />
        <Route path="intake/health" element={<IntakeHealth />} />
        <Route path="intake/:sessionId" element={<IntakeSession />} />
        <Route path="persons" element={<Persons />} />
        <Route path="persons/reviews" element={<Reviews />} />
        <Route path="persons/:personId" element={<PersonChart />} />
        <Route path="beds" element={<BedBoard />} />
        <Route path="legal-cases" element={<LegalCases />} />
        <Route path="legal-cases/:caseId" element={<LegalCases />} />
        <Route path="clinics" element={<Clinics />} />
        <Route path="*" element={<p>There is no page here.</p>} />
      </Route>
    </Routes>
    </Suspense>
  );
}

/** Where a person lands: hospital staff on their hospital's incoming patients, everyone else on
 * the first view their role may open. */
function homeOf(me: Me | null, can: (perm: string) => boolean): string | undefined {
  if (me && (me.hospital_id || (can("handoffs:receive") && !can("incidents:write")))) return "/hospital";
  return NAV.find((n) => can(n.perm))?.to;
}
