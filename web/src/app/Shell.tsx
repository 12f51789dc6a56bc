import { Link, NavLink, Outlet, useNavigate } from "react-router-dom";
import { ConnectionBanner } from "../components/ConnectionBanner";
import { SearchBox } from "../components/SearchBox";
import { useApp, useConnectionState } from "./context";

export interface NavItem {
  to: string;
  label: string;
  perm: string;
}

export const NAV: NavItem[] = [
  { to: "/dispatch", label: "Dispatch", perm: "incidents:read" },
  { to: "/triage", label: "Triage", perm: "triage:run" },
  { to: "/monitor", label: "Patient monitor", perm: "vitals:read" },
  { to: "/hospital", label: "Hospital", perm: "handoffs:receive" },
  { to: "/crew", label: "Crew", perm: "crew:unit" },
  { to: "/paging", label: "Paging", perm: "oncall:read" },
  { to: "/oncall", label: "On-call schedules", perm: "oncall:read" },
  { to: "/me/notifications", label: "My notifications", perm: "notify:self" },
  { to: "/emergency", label: "Emergency", perm: "emergency:read" },
  { to: "/intake", label: "Intake", perm: "intake:read" },
  { to: "/persons", label: "Persons", perm: "persons:read" },
  { to: "/beds", label: "Beds", perm: "intake:read" },
  { to: "/legal-cases", label: "Legal cases", perm: "intake:read" },
  { to: "/clinics", label: "Clinics", perm: "intake:read" },
  { to: "/admin", label: "Admin", perm: "users:write" },
];

export function Shell() {
  const { api, session, me, can } = useApp();
  const state = useConnectionState();
  const navigate = useNavigate();
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">EMsync</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => can(n.perm)).map((n) => (
              <li key={n.to}>
                <NavLink to={n.to}>{n.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        {can("emergency:read") && (
          <SearchBox onSearch={(q) => void navigate(`/emergency/search?q=${encodeURIComponent(q)}`)} />
        )}
        <ConnectionBanner state={state} />
        <span className="who" data-testid="who">
          {session?.username} · {(me?.role ?? session?.role ?? "").replace(/_/g, " ")}
        </span>
        <Link to="/account/password" className="account-link">
          Change password
        </Link>
        <button type="button" onClick={() => void api.logout()}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
