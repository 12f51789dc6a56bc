/* The admin area: one page per thing an administrator keeps, tabs across the top; each tab
 * shows only to the roles whose permission it needs (an auditor sees the audit log). */
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { Redirect } from "../../app/Redirect";
import { ViewBoundary } from "../../components/ViewBoundary";
import { useApp } from "../../app/context";

export const ADMIN_TABS = [
  ["places", "Stations & hospitals (map)", "units:write"],
  ["people", "People & roles", "users:read"],
  ["keys", "API keys", "api_keys:manage"],
  ["devices", "Devices", "devices:write"],
  ["hospitals", "Hospitals", "hospitals:write"],
  ["units", "Units & stations", "units:write"],
  ["map", "Road map", "map:import"],
  ["audit", "Audit log", "audit:read"],
] as const;

export function Admin() {
  const { can } = useApp();
  const { pathname } = useLocation();
  return (
    <div className="admin-area">
      <nav aria-label="Administration" className="tabs">
        {ADMIN_TABS.filter(([, , perm]) => can(perm)).map(([to, label]) => (
          <NavLink key={to} to={`/admin/${to}`}>
            {label}
          </NavLink>
        ))}
      </nav>
      {/* The tabs stay while a tab's screen loads. */}
      <ViewBoundary where={pathname}>
        <Outlet />
      </ViewBoundary>
    </div>
  );
}

/** /admin opens the first tab the signed-in role may open. */
export function AdminHome() {
  const { can } = useApp();
  const first = ADMIN_TABS.find(([, , perm]) => can(perm))?.[0] ?? "places";
  return <Redirect to={`/admin/${first}`} />;
}
