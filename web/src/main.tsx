/** The dashboard: login, then a sidebar with one page per route in routes.ts. */
import type { ComponentType } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { LOGGED_OUT_EVENT, logout, token } from "./api.ts";
import { AlarmsPage } from "./pages/alarms.tsx";
import { Clients } from "./pages/clients.tsx";
import { ClusterPage } from "./pages/cluster.tsx";
import { DelayedPage } from "./pages/delayed.tsx";
import { Login } from "./pages/login.tsx";
import { Overview } from "./pages/overview.tsx";
import { RetainedPage } from "./pages/retained.tsx";
import { RulesPage } from "./pages/rules.tsx";
import { SecurityPage } from "./pages/security.tsx";
import { Sessions } from "./pages/sessions.tsx";
import { SlowSubsPage } from "./pages/slow-subs.tsx";
import { Storage } from "./pages/storage.tsx";
import { Subscriptions } from "./pages/subscriptions.tsx";
import { Topics } from "./pages/topics.tsx";
import { navigate, onLinkClick, usePath } from "./router.ts";
import { LOGIN_PATH, ROUTES, type RoutePath } from "./routes.ts";
import "./style.css";

const PAGES: Record<RoutePath, ComponentType> = {
  "/": Overview,
  "/clients": Clients,
  "/sessions": Sessions,
  "/subscriptions": Subscriptions,
  "/topics": Topics,
  "/retained": RetainedPage,
  "/delayed": DelayedPage,
  "/rules": RulesPage,
  "/storage": Storage,
  "/security": SecurityPage,
  "/alarms": AlarmsPage,
  "/slow-subscriptions": SlowSubsPage,
  "/cluster": ClusterPage,
};

function App() {
  const path = usePath();
  const [loggedIn, setLoggedIn] = useState(token() !== null);
  const [reason, setReason] = useState<string | null>(null);
  const [returnTo, setReturnTo] = useState<string>(path === LOGIN_PATH ? "/" : path);

  useEffect(() => {
    const onLoggedOut = (event: Event) => {
      setReason((event as CustomEvent<string | null>).detail);
      // A page with several requests gets several 401s: the later ones, arriving on the login
      // page, must not overwrite where to go back to.
      setReturnTo((previous) => (location.pathname === LOGIN_PATH ? previous : location.pathname));
      setLoggedIn(false);
    };
    window.addEventListener(LOGGED_OUT_EVENT, onLoggedOut);
    return () => window.removeEventListener(LOGGED_OUT_EVENT, onLoggedOut);
  }, []);

  useEffect(() => {
    if (!loggedIn && path !== LOGIN_PATH) navigate(LOGIN_PATH, true);
    if (loggedIn && path === LOGIN_PATH) navigate(returnTo, true);
  }, [loggedIn, path, returnTo]);

  if (!loggedIn || path === LOGIN_PATH) {
    return (
      <Login
        reason={reason}
        onLoggedIn={() => {
          setReason(null);
          setLoggedIn(true);
        }}
      />
    );
  }
  const Page = PAGES[path as RoutePath];
  return (
    <div class="shell">
      <nav>
        <div class="brand">
          <span class="logo">◆</span> RobustMQ
        </div>
        {ROUTES.map((r) => (
          <a
            key={r.path}
            href={r.path}
            class={r.path === path ? "active" : undefined}
            onClick={(e) => onLinkClick(e, r.path)}
          >
            {r.title}
          </a>
        ))}
        <button type="button" class="logout" onClick={() => logout(null)}>
          Log out
        </button>
      </nav>
      <main>{Page === undefined ? <div class="empty">No such page.</div> : <Page />}</main>
    </div>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
