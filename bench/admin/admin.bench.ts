/**
 * The admin API's speed on a full broker, in one run on one machine:
 *
 *   (a) list latency    N persistent offline sessions, then p50/p99 over --calls sequential
 *                       calls of each list route (first page, a middle page, filtered queries),
 *                       /sessions, /stats and /topics, timed from the request to the whole body.
 *                       Target: p99 < 100 ms.
 *   (b) dashboard open  QoS 0 pub/sub throughput (`robustmq bench mqtt pubsub`) with nobody
 *                       watching, and with the dashboard's Overview page polling the admin API as
 *                       it does in a browser. Target: >= 97% of unwatched.
 *
 * Sessions are made the way clients make them: `robustmq bench mqtt conn --clean-start false
 * --session-expiry 3600` in batches of --batch connections that connect, stay 1 s and
 * disconnect, each batch with its own client id prefix. Holding N connections open is not an
 * option: a process may open 20,000 files on our machines, and max_connections is 10,000.
 *
 * The Overview's polling is read from web/src/pages/overview.tsx (its STATS_POLL_MS and
 * NODE_POLL_MS, and the routes it calls), so the bench follows the page if it changes; the bench
 * makes the same requests with fetch and the same bearer token. (b) runs on the broker that (a)
 * filled, so each /stats walks all N sessions, as on a big node. Unwatched and watched runs
 * alternate (the order flips every repeat, after a 3 s warm-up run); the figures are the medians
 * of --repeat runs, and the median of each run's watched / unwatched ratio (the two halves of a
 * run are back to back, so that ratio cancels most of a shared machine's drift).
 *
 *   node bench/admin/admin.bench.ts [--sessions 100000] [--batch 9000] [--calls 50]
 *        [--seconds 10] [--repeat 5] [--clients 10]
 *
 * Prints one JSON line per measurement, then two Markdown tables.
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { BenchSummary } from "../../src/bench/summary.ts";
import { runBenchCli } from "../../test/helpers/bench-cli.ts";
import { type BrokerProcess, startBroker } from "../../test/helpers/broker-process.ts";

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const sessionCount = Number(argument("sessions", "100000"));
const batchSize = Number(argument("batch", "9000"));
const callCount = Number(argument("calls", "50"));
const seconds = Number(argument("seconds", "10"));
const repeat = Number(argument("repeat", "5"));
const clients = Number(argument("clients", "10"));

const LIST_TARGET_MS = 100;
const THROUGHPUT_TARGET_RATIO = 0.97;
/** Calls of each route before timing: the first request loads the admin API itself. */
const WARMUP_CALLS = 5;
const PAGE_LIMIT = 100;
/** A first pub/sub run, not counted: the broker's code is not optimized yet. */
const WARMUP_PUBSUB_S = 3;
const BATCH_TIMEOUT_MS = 120_000;
const ADMIN_PASSWORD = "bench-admin-password";
const OVERVIEW_SOURCE = new URL("../../web/src/pages/overview.tsx", import.meta.url);

interface OverviewPolling {
  statsPollMs: number;
  nodePollMs: number;
}

/** The Overview page's intervals and routes, read from its source. */
function overviewPolling(): OverviewPolling {
  const source = readFileSync(OVERVIEW_SOURCE, "utf8");
  const constant = (name: string): number => {
    const found = new RegExp(`const ${name} = ([\\d_]+);`).exec(source);
    if (found === null) throw new Error(`${name} not found in ${OVERVIEW_SOURCE.pathname}`);
    return Number(found[1].replaceAll("_", ""));
  };
  for (const route of ['"/stats"', '"/node"']) {
    if (!source.includes(route)) throw new Error(`the Overview page no longer polls ${route}`);
  }
  return { statsPollMs: constant("STATS_POLL_MS"), nodePollMs: constant("NODE_POLL_MS") };
}

function percentile(sortedMs: number[], fraction: number): number {
  const index = Math.min(sortedMs.length - 1, Math.ceil(fraction * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const round = (ms: number) => Math.round(ms * 10) / 10;

interface Admin {
  base: string;
  /** GET with the token; resolves with the time to the whole body, in ms. */
  time(path: string): Promise<{ ms: number; body: string }>;
}

async function adminOf(broker: BrokerProcess): Promise<Admin> {
  const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
  const base = `http://127.0.0.1:${String(line.address).split(":").pop()}`;
  const login = await fetch(`${base}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const headers = { authorization: `Bearer ${token}` };
  return {
    base,
    async time(path) {
      const start = performance.now();
      const response = await fetch(`${base}${path}`, { headers });
      const body = await response.text();
      const ms = performance.now() - start;
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${body}`);
      return { ms, body };
    },
  };
}

/** (a, setup) N offline persistent sessions, made in batches of connect, stay 1 s, disconnect. */
async function fill(broker: BrokerProcess, admin: Admin): Promise<number> {
  const start = performance.now();
  for (let made = 0, batch = 0; made < sessionCount; batch++) {
    const size = Math.min(batchSize, sessionCount - made);
    const run = await runBenchCli<BenchSummary>(
      "mqtt",
      ["conn", "-p", String(broker.port), "-c", String(size), "-d", "1"].concat(
        ["--clean-start", "false", "--session-expiry", "3600"],
        ["--client-id-prefix", `s${String(batch).padStart(3, "0")}-`],
      ),
      BATCH_TIMEOUT_MS,
    );
    if (run.summary.connect.connectedCount !== size) {
      throw new Error(`batch ${batch}: ${run.summary.connect.connectedCount} of ${size} connected`);
    }
    made += size;
  }
  const fillS = (performance.now() - start) / 1000;
  const stats = JSON.parse((await admin.time("/api/v1/stats")).body) as { sessions: number };
  if (stats.sessions < sessionCount) throw new Error(`only ${stats.sessions} sessions kept`);
  console.log(
    JSON.stringify({
      bench: "admin",
      part: "fill",
      sessions: stats.sessions,
      batchSize,
      seconds: round(fillS),
      sessionsPerSecond: Math.round(sessionCount / fillS),
      brokerRssMiB: rssMiB(broker),
    }),
  );
  return stats.sessions;
}

function rssMiB(broker: BrokerProcess): number | null {
  try {
    const status = readFileSync(`/proc/${broker.child.pid}/status`, "utf8");
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? null : Math.round(Number(kib) / 1024);
  } catch {
    return null;
  }
}

interface LatencyRow {
  name: string;
  path: string;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bodyBytes: number;
}

async function timeRoute(admin: Admin, name: string, path: string): Promise<LatencyRow> {
  for (let i = 0; i < WARMUP_CALLS; i++) await admin.time(path);
  const times: number[] = [];
  let bodyBytes = 0;
  for (let i = 0; i < callCount; i++) {
    const { ms, body } = await admin.time(path);
    times.push(ms);
    bodyBytes = body.length;
  }
  times.sort((a, b) => a - b);
  const row = {
    name,
    path,
    p50Ms: round(percentile(times, 0.5)),
    p99Ms: round(percentile(times, 0.99)),
    maxMs: round(times[times.length - 1]),
    bodyBytes,
  };
  console.log(JSON.stringify({ bench: "admin", part: "list", sessions: sessionCount, ...row }));
  return row;
}

/** (a) every route the dashboard and ctl list with, on the filled broker. */
async function listLatency(admin: Admin, sessions: number): Promise<LatencyRow[]> {
  const middle = Math.floor(sessions / 2);
  const middlePage = JSON.parse(
    (await admin.time(`/api/v1/clients?limit=1&offset=${middle}`)).body,
  ) as { data: Array<{ clientId: string }> };
  const someId = encodeURIComponent(middlePage.data[0].clientId);
  const routes: Array<[string, string]> = [
    ["clients, first page", `/api/v1/clients?limit=${PAGE_LIMIT}`],
    ["clients, middle page", `/api/v1/clients?limit=${PAGE_LIMIT}&offset=${middle}`],
    ["clients, clientId filter", `/api/v1/clients?clientId=${someId}`],
    ["clients, connected=true filter", `/api/v1/clients?connected=true&limit=${PAGE_LIMIT}`],
    ["sessions, first page", `/api/v1/sessions?limit=${PAGE_LIMIT}`],
    ["sessions, middle page", `/api/v1/sessions?limit=${PAGE_LIMIT}&offset=${middle}`],
    ["stats", "/api/v1/stats"],
    ["topics, first page", `/api/v1/topics?limit=${PAGE_LIMIT}`],
  ];
  const rows: LatencyRow[] = [];
  for (const [name, path] of routes) rows.push(await timeRoute(admin, name, path));
  return rows;
}

interface Poller {
  stop(): { stats: number[]; node: number[] };
}

/** The Overview page's polling: /stats every statsPollMs, /node every nodePollMs, from now. */
function startOverviewPolling(admin: Admin, polling: OverviewPolling): Poller {
  const stats: number[] = [];
  const node: number[] = [];
  const poll = (path: string, into: number[]) => () => {
    admin.time(path).then(
      (r) => into.push(r.ms),
      (err: unknown) => console.error(`poll ${path}: ${String(err)}`),
    );
  };
  const pollStats = poll("/api/v1/stats", stats);
  const pollNode = poll("/api/v1/node", node);
  pollStats();
  pollNode();
  const timers = [
    setInterval(pollStats, polling.statsPollMs),
    setInterval(pollNode, polling.nodePollMs),
  ];
  return {
    stop() {
      for (const timer of timers) clearInterval(timer);
      return { stats, node };
    },
  };
}

async function pubsubRate(broker: BrokerProcess, tag: string, runS = seconds): Promise<number> {
  const run = await runBenchCli<BenchSummary>(
    "mqtt",
    ["pubsub", "-p", String(broker.port), "--publishers", String(clients)].concat(
      ["--subscribers", String(clients), "-q", "0", "-t", "bench/%i", "-d", String(runS)],
      ["--client-id-prefix", `${tag}-`],
    ),
    BATCH_TIMEOUT_MS + runS * 1000,
  );
  return run.summary.receive?.messagesPerSecond ?? 0;
}

/** (b) unwatched and watched runs, alternating; medians, and the median of per-run ratios. */
async function dashboardOpen(broker: BrokerProcess, admin: Admin, polling: OverviewPolling) {
  const unwatched: number[] = [];
  const watched: number[] = [];
  await pubsubRate(broker, "warmup", WARMUP_PUBSUB_S); // JIT and buffers, not counted
  for (let run = 0; run < repeat; run++) {
    const order = run % 2 === 0 ? [false, true] : [true, false];
    for (const watching of order) {
      const poller = watching ? startOverviewPolling(admin, polling) : null;
      const rate = await pubsubRate(broker, `p${run}${watching ? "w" : "u"}`);
      const polls = poller?.stop();
      (watching ? watched : unwatched).push(rate);
      const sorted = polls?.stats.sort((a, b) => a - b) ?? [];
      console.log(
        JSON.stringify({
          bench: "admin",
          part: "pubsub",
          run,
          dashboard: watching ? "overview polling" : "none",
          messagesPerSecond: Math.round(rate),
          ...(polls === undefined
            ? {}
            : {
                statsCalls: polls.stats.length,
                nodeCalls: polls.node.length,
                statsP50Ms: round(percentile(sorted, 0.5)),
                statsMaxMs: round(sorted[sorted.length - 1] ?? 0),
              }),
        }),
      );
    }
  }
  // Each run's two halves are back to back, so their ratio cancels the machine's drift.
  const paired = watched.map((rate, run) => rate / unwatched[run]);
  return { unwatched: median(unwatched), watched: median(watched), pairedRatio: median(paired) };
}

function printTables(
  sessions: number,
  rows: LatencyRow[],
  rates: { unwatched: number; watched: number; pairedRatio: number },
  polling: OverviewPolling,
): void {
  const n = sessions.toLocaleString("en");
  console.log(
    `\n| Request, ${n} sessions (${callCount} calls) | p50 ms | p99 ms | p99 / ${LIST_TARGET_MS} ms target |`,
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const row of rows) {
    const ratio = (row.p99Ms / LIST_TARGET_MS).toFixed(2);
    console.log(`| ${row.name} | ${row.p50Ms} | ${row.p99Ms} | ${ratio} |`);
  }
  const ratio = rates.watched / rates.unwatched;
  console.log(
    `\n| QoS 0 pub/sub, ${clients} -> ${clients} clients, ${seconds} s (median of ${repeat}) | msg/s | Ratio (target >= ${THROUGHPUT_TARGET_RATIO}) |`,
  );
  console.log("| --- | ---: | ---: |");
  console.log(`| nobody watching | ${Math.round(rates.unwatched).toLocaleString("en")} | |`);
  console.log(
    `| dashboard Overview open: GET /api/v1/stats every ${polling.statsPollMs} ms, /api/v1/node every ${polling.nodePollMs} ms | ${Math.round(rates.watched).toLocaleString("en")} | ${ratio.toFixed(3)} |`,
  );
  console.log(
    `| median of the ${repeat} per-run ratios (watched / unwatched, back to back) | | ${rates.pairedRatio.toFixed(3)} |`,
  );
}

const polling = overviewPolling();
console.log(
  JSON.stringify({
    bench: "admin",
    part: "setup",
    sessions: sessionCount,
    overviewPolling: `GET /api/v1/stats every ${polling.statsPollMs} ms and GET /api/v1/node every ${polling.nodePollMs} ms (read from web/src/pages/overview.tsx), reproduced with fetch`,
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  }),
);
const broker = await startBroker({
  config: `[network]\nbind_address = "127.0.0.1"\n[admin]\npassword = "${ADMIN_PASSWORD}"\n`,
  logLevel: "info",
});
try {
  const admin = await adminOf(broker);
  const sessions = await fill(broker, admin);
  const rows = await listLatency(admin, sessions);
  const rates = await dashboardOpen(broker, admin, polling);
  printTables(sessions, rows, rates, polling);
} finally {
  await broker.stop();
}
