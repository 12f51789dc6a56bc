/* The admin area: one page per thing an administrator keeps, tabs across the top; each tab
 * shows only to the roles whose permission it needs (an auditor sees the audit log). */
import { Navigate, NavLink, Outlet } from "react-router-dom";
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
  return (
    <div className="admin-area">
      <nav aria-label="Administration" className="tabs">
        {ADMIN_TABS.filter(([, , perm]) => can(perm)).map(([to, label]) => (
          <NavLink key={to} to={`/admin/${to}`}>
            {label}
          </NavLink>
        ))}
      </nav>
      <Outlet />
    </div>
  );
}

/** /admin opens the first tab the signed-in role may open. */
export function AdminHome() {
  const { can } = useApp();
  const first = ADMIN_TABS.find(([, , perm]) => can(perm))?.[0] ?? "places";
  return <Navigate to={`/admin/${first}`} replace />;
}
