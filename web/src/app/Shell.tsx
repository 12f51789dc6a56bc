import { Link, Outlet, useLocation, useNavigate } from "react-router-dom";
import { ConnectionBanner } from "../components/ConnectionBanner";
import { SearchBox } from "../components/SearchBox";
import { ViewBoundary } from "../components/ViewBoundary";
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
  { to: "/intake/health", label: "Intake health", perm: "intake:read" },
  { to: "/admin", label: "Admin", perm: "users:write" },
];

/** The menu entry a path belongs to: the longest one it lies under, so /intake/health marks only
 *  "Intake health" while an intake session (/intake/<id>) still marks "Intake". */
export function currentEntry(pathname: string, items: readonly NavItem[]): string | undefined {
  const under = items.filter((n) => pathname === n.to || pathname.startsWith(`${n.to}/`));
  return under.sort((a, b) => b.to.length - a.to.length)[0]?.to;
}

export function Shell() {
  const { api, session, me, meError, reloadMe, can } = useApp();
  const state = useConnectionState();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const current = currentEntry(pathname, NAV);
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
                <Link
                  to={n.to}
                  className={n.to === current ? "active" : undefined}
                  aria-current={n.to === current ? "page" : undefined}
                >
                  {n.label}
                </Link>
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
        {/* A screen opens once the person's account (role, permissions, hospital) has loaded:
            one that mounted before would hide what it may not show, read no hospital, or
            redirect to the wrong tab, and stay that way. */}
        {me ? (
          <ViewBoundary where={pathname}>
            <Outlet />
          </ViewBoundary>
        ) : meError ? (
          <div className="panel" role="alert" data-testid="account-error">
            <p className="error">Your account could not be loaded: {meError}</p>
            <button type="button" onClick={reloadMe}>
              Try again
            </button>
          </div>
        ) : (
          <p className="muted" role="status">
            Loading your account…
          </p>
        )}
      </main>
    </div>
  );
}
