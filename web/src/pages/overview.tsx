/**
 * Overview: live charts from /api/v1/stats (polled every STATS_POLL_MS; rates are deltas of the
 * counters between two samples), the current sizes, and the node from /api/v1/node.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../api.ts";
import { Chart, type Series } from "../chart.tsx";
import { ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";

const STATS_POLL_MS = 1000;
const NODE_POLL_MS = 5000;
/** Samples kept per chart: two minutes at one a second. */
const SAMPLES_MAX = 120;

interface Stats {
  connections: number;
  sessions: number;
  subscriptions: number;
  retained: number;
  inflight: number;
  queued: number;
  counters: Record<string, number>;
}

interface NodeInfo {
  clusterName: string;
  brokerId: number;
  roles: string[];
  version: string;
  startedAt: string;
  uptimeS: number;
  listeners: Record<string, { host: string; port: number }>;
}

/** Chart columns: time, messages in/s, out/s, bytes in/s, out/s, connections. */
type Columns = [number[], number[], number[], number[], number[], number[]];

const MESSAGE_SERIES: Series[] = [
  { label: "in", color: "#2563eb" },
  { label: "out", color: "#16a34a" },
];
const BYTE_SERIES: Series[] = [
  { label: "in", color: "#7c3aed" },
  { label: "out", color: "#ea580c" },
];
const CONNECTION_SERIES: Series[] = [{ label: "connections", color: "#0891b2" }];
const perSecond = (v: number) => `${format.rate(v)}/s`;
const bytesPerSecond = (v: number) => `${format.bytes(Math.round(v))}/s`;
const whole = (v: number) => format.count(Math.round(v));

function emptyColumns(): Columns {
  return [[], [], [], [], [], []];
}

/** Appends one sample (rates against the previous one), keeping the last SAMPLES_MAX. */
function appendSample(columns: Columns, previous: Stats, current: Stats, seconds: number) {
  const elapsedS = Math.max(seconds - (columns[0].at(-1) ?? seconds - 1), 0.001);
  const delta = (name: string) =>
    Math.max(0, (current.counters[name] ?? 0) - (previous.counters[name] ?? 0)) / elapsedS;
  const next: Columns = [
    [...columns[0], seconds],
    [...columns[1], delta("messagesIn")],
    [...columns[2], delta("messagesOut")],
    [...columns[3], delta("bytesIn")],
    [...columns[4], delta("bytesOut")],
    [...columns[5], current.connections],
  ];
  return next.map((c) => c.slice(-SAMPLES_MAX)) as Columns;
}

function useStats() {
  const [stats, setStats] = useState<Stats | null>(null);
  const [columns, setColumns] = useState<Columns>(emptyColumns);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let previous: Stats | null = null;
    let stopped = false;
    const poll = async () => {
      try {
        const current = await api<Stats>("GET", "/stats");
        if (stopped) return;
        const seconds = Date.now() / 1000;
        const before = previous;
        if (before !== null) setColumns((c) => appendSample(c, before, current, seconds));
        else setColumns(() => [[seconds], [0], [0], [0], [0], [current.connections]]);
        previous = current;
        setStats(current);
        setError(null);
      } catch (err) {
        if (!stopped) setError(err instanceof ApiError ? err : new ApiError(0, "", String(err)));
      }
    };
    poll();
    const timer = setInterval(poll, STATS_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return { stats, columns, error };
}

function useNode() {
  const [node, setNode] = useState<NodeInfo | null>(null);
  const [healthy, setHealthy] = useState<boolean | null>(null);
  useEffect(() => {
    const poll = () =>
      api<NodeInfo>("GET", "/node").then(
        (info) => {
          setNode(info);
          setHealthy(true);
        },
        () => setHealthy(false),
      );
    poll();
    const timer = setInterval(poll, NODE_POLL_MS);
    return () => clearInterval(timer);
  }, []);
  return { node, healthy };
}

function StatCard({ name, label, value }: { name: string; label: string; value: number }) {
  return (
    <div class="card stat" data-stat={name}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{format.count(value)}</div>
    </div>
  );
}

function NodeCard({ node, healthy }: { node: NodeInfo | null; healthy: boolean | null }) {
  const badge = healthy === null ? "checking" : healthy ? "healthy" : "unreachable";
  return (
    <div class="card node">
      <h2>
        Node <span class={`badge ${badge}`}>{badge}</span>
      </h2>
      {node !== null && (
        <dl>
          <dt>Cluster</dt>
          <dd>{node.clusterName}</dd>
          <dt>Broker id</dt>
          <dd>{node.brokerId}</dd>
          <dt>Roles</dt>
          <dd>{node.roles.join(", ")}</dd>
          <dt>Version</dt>
          <dd>{node.version}</dd>
          <dt>Uptime</dt>
          <dd>{format.duration(node.uptimeS)}</dd>
          <dt>Listeners</dt>
          <dd>
            {Object.entries(node.listeners)
              .map(([name, l]) => `${name} ${l.host}:${l.port}`)
              .join(" · ")}
          </dd>
        </dl>
      )}
    </div>
  );
}

export function Overview() {
  const { stats, columns, error } = useStats();
  const { node, healthy } = useNode();
  const messages = [columns[0], columns[1], columns[2]];
  const traffic = [columns[0], columns[3], columns[4]];
  const connections = [columns[0], columns[5]];
  return (
    <section>
      <h1>Overview</h1>
      <ErrorBanner error={error} />
      {stats !== null && (
        <div class="stats">
          <StatCard name="connections" label="Connections" value={stats.connections} />
          <StatCard name="sessions" label="Sessions" value={stats.sessions} />
          <StatCard name="subscriptions" label="Subscriptions" value={stats.subscriptions} />
          <StatCard name="retained" label="Retained" value={stats.retained} />
          <StatCard name="inflight" label="In flight" value={stats.inflight} />
          <StatCard name="queued" label="Queued" value={stats.queued} />
        </div>
      )}
      <div class="charts">
        <Chart title="Messages / s" series={MESSAGE_SERIES} data={messages} format={perSecond} />
        <Chart title="Bytes / s" series={BYTE_SERIES} data={traffic} format={bytesPerSecond} />
        <Chart title="Connections" series={CONNECTION_SERIES} data={connections} format={whole} />
        <NodeCard node={node} healthy={healthy} />
      </div>
    </section>
  );
}
