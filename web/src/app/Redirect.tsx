import { Navigate, useLocation } from "react-router-dom";

/** Sends whoever arrives here on to `to` (replacing this entry), on every arrival.
 *
 * A bare `<Navigate>` redirects once, from its mount effect. The router applies navigations as
 * React transitions, and a transition whose target screen is still loading its bundle is not
 * shown yet; a second navigation to this same path in that window (a click on the Admin link
 * while /admin was on its way to its first tab) supersedes it, lands back on the already mounted
 * `<Navigate>` with unchanged props, and no effect runs again: the page stayed on the empty
 * index route. Each arrival is a new history entry with its own key, so keying on it makes
 * each arrival redirect. */
export function Redirect({ to }: { to: string }) {
  const { key } = useLocation();
  return <Navigate key={key} to={to} replace />;
}
