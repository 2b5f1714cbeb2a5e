/**
 * The dashboard's pages. The admin server answers index.html for exactly these paths
 * (src/admin/static.ts, DASHBOARD_ROUTES; a unit test keeps the lists equal).
 */
export const ROUTES = [
  { path: "/", title: "Overview" },
  { path: "/clients", title: "Clients" },
  { path: "/sessions", title: "Sessions" },
  { path: "/subscriptions", title: "Subscriptions" },
  { path: "/topics", title: "Topics" },
  { path: "/retained", title: "Retained" },
  { path: "/delayed", title: "Delayed" },
  { path: "/rules", title: "Topic rules" },
  { path: "/storage", title: "Storage" },
  { path: "/security", title: "Security" },
  { path: "/alarms", title: "Alarms" },
  { path: "/slow-subscriptions", title: "Slow subscriptions" },
  { path: "/cluster", title: "Cluster" },
] as const;

export const LOGIN_PATH = "/login";

export type RoutePath = (typeof ROUTES)[number]["path"];
