/**
 * Workload 6: N idle connections. The connect rate comes from the generator
 * (`robustmq bench mqtt conn`); the memory from the broker's VmRSS in /proc: once with the
 * broker warmed up and idle, once while all N connections are held (its open-file count tells
 * when they are), divided by N.
 *
 * With `--heap-snapshot DIR`, RobustMQ also writes a V8 heap snapshot at both moments, and the
 * growth is printed per connection, by constructor (profile.ts).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { assert } from "../../src/errors.ts";
import { errorText, runGenerator } from "./generator.ts";
import { openFileCount, residentBytes } from "./proc.ts";
import { formatHeapGrowth, heapGrowth } from "./profile.ts";
import type { Measurement, RunContext } from "./workloads.ts";

const SOURCE_IP_RANGE = "127.0.0.2-127.0.0.20";
const WARMUP_CONNECTION_COUNT = 200;
const SETTLE_MS = 1_000;
const SAMPLE_INTERVAL_MS = 200;
/** All N are "held" once the broker has this share of them open as files. */
const HELD_SHARE_MIN = 0.98;
/** The hold is this much longer when a heap snapshot (which stops the broker) is taken. */
const SNAPSHOT_HOLD_EXTRA_SECONDS = 30;
const SNAPSHOT_TIMEOUT_MS = 60_000;
const HEAP_GROWTH_ROWS = 15;

interface Sample {
  residentBytes: number;
  openFileCount: number;
}

function sample(pid: number): Sample | null {
  const resident = residentBytes(pid);
  const files = openFileCount(pid);
  return resident === null || files === null
    ? null
    : { residentBytes: resident, openFileCount: files };
}

/** Sends SIGUSR2 and waits until a new .heapsnapshot in `dir` has stopped growing. */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  let lastSize = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === lastSize) return join(dir, file);
    lastSize = size;
  }
  throw new Error(`no heap snapshot in ${dir} within ${SNAPSHOT_TIMEOUT_MS} ms`);
}

/** Samples the broker while the generator holds the connections; the last full sample wins. */
async function holdAndSample(
  context: RunContext,
  base: Sample,
  snapshotDir: string | null,
): Promise<{
  held: Sample | null;
  snapshot: Promise<string> | null;
  run: Awaited<ReturnType<typeof runGenerator>>;
}> {
  const { broker, settings } = context;
  const count = settings.connectionCount;
  const seconds = settings.seconds + (snapshotDir === null ? 0 : SNAPSHOT_HOLD_EXTRA_SECONDS);
  const args = ["conn", "-p", String(broker.port), "-V", "4", "--client-id-prefix", "w6-"];
  args.push("-c", String(count), "--conn-rate", "0", "--source-ip", SOURCE_IP_RANGE);
  let held: Sample | null = null;
  let snapshot: Promise<string> | null = null;
  const timer = setInterval(() => {
    if (snapshot !== null) return; // the snapshot itself inflates the RSS
    const now = sample(broker.pid);
    if (now === null || now.openFileCount < base.openFileCount + count * HELD_SHARE_MIN) return;
    held = now;
    if (snapshotDir !== null) snapshot = heapSnapshot(broker.pid, snapshotDir);
  }, SAMPLE_INTERVAL_MS);
  try {
    const run = await runGenerator([...args, "-d", String(seconds)], seconds);
    return { held, snapshot, run };
  } finally {
    clearInterval(timer);
  }
}

export async function measureConnections(context: RunContext): Promise<Measurement> {
  const { broker, settings } = context;
  const snapshotDir = broker.name === "robustmq" ? settings.heapSnapshotDir : null;
  context.log(`warm-up: ${WARMUP_CONNECTION_COUNT} connections`);
  const warmArgs = ["conn", "-p", String(broker.port), "-V", "4", "--client-id-prefix", "w6w-"];
  const warm = await runGenerator(
    [...warmArgs, "-c", String(WARMUP_CONNECTION_COUNT), "-d", "0.5"],
    1,
  );
  await sleep(SETTLE_MS);
  const base = sample(broker.pid);
  assert(base !== null, `/proc/${broker.pid} is readable`);
  const baseSnapshot = snapshotDir === null ? null : await heapSnapshot(broker.pid, snapshotDir);
  context.log(`holding ${settings.connectionCount.toLocaleString("en-US")} connections`);
  const { held, snapshot, run } = await holdAndSample(context, base, snapshotDir);
  if (broker.exited()) throw new Error(`${broker.name} exited during the run`);
  const connected = run.summary.connect.connectedCount;
  const notes = [`${connected.toLocaleString("en-US")} connected`];
  if (run.summary.errorCount > 0) notes.push(`generator errors: ${errorText(run.summary)}`);
  if (held === null) notes.push("never saw all connections open at once: no RSS figure");
  if (snapshotDir !== null) notes.push("RSS includes what the first heap snapshot allocated");
  const extra: Record<string, unknown> = {
    baseResidentBytes: base.residentBytes,
    heldResidentBytes: held?.residentBytes ?? null,
  };
  if (baseSnapshot !== null && snapshot !== null && connected > 0) {
    const growth = heapGrowth(baseSnapshot, await snapshot, HEAP_GROWTH_ROWS);
    extra.heapGrowthPerConnection = growth.map((g) => ({ ...g, bytes: g.bytes / connected }));
    context.log(
      `heap growth per connection, by constructor:\n${formatHeapGrowth(growth, connected)}`,
    );
  }
  const rssPerConnection =
    held === null || connected === 0
      ? null
      : (held.residentBytes - base.residentBytes) / connected / 1024;
  return {
    values: {
      connectPerSecond: run.summary.connect.ratePerSecond,
      rssPerConnectionKiB: rssPerConnection,
    },
    deliveredShare: null,
    cpu: null,
    notes,
    runs: [warm, run],
    extra,
  };
}
