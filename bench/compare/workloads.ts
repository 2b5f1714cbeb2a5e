/**
 * The seven workloads of the comparison. Each one runs against one broker at a time, through
 * the same load generator with the same flags (generator.ts), and turns its JSON summaries into
 * a few numbers. Throughput workloads run once for warm-up, then once measured.
 *
 * MQTT 3.1.1 everywhere (`-V 4`), because Aedes does not speak MQTT 5; workload 7 needs the
 * Session Expiry Interval and uses MQTT 5 for the brokers that have it.
 */
import { assert } from "../../src/errors.ts";
import type { BrokerName, RunningBroker } from "./brokers.ts";
import { measureConnections } from "./connections.ts";
import { type BenchSummary, errorText, type GeneratorRun, runGenerator } from "./generator.ts";
import { type CpuUse, sampleCpu } from "./proc.ts";

export type Better = "higher" | "lower";

export interface Target {
  /** RobustMQ / Aedes at least this (higher is better). */
  aedesRatioMin: number | null;
  /** RobustMQ / Mosquitto at least this (higher is better). */
  mosquittoRatioMin: number | null;
  /** RobustMQ at most Mosquitto's value (lower is better). */
  atMostMosquitto: boolean;
  /** RobustMQ's value at most this, in the metric's unit. */
  valueMax: number | null;
}

export interface MetricSpec {
  key: string;
  label: string;
  better: Better;
  /** Decimal places shown. */
  digits: number;
  target: Target | null;
}

export interface Settings {
  seconds: number;
  warmupSeconds: number;
  /** Workload 6: idle connections. */
  connectionCount: number;
  /** Workload 6, RobustMQ: heap snapshots before and during the hold go here. */
  heapSnapshotDir: string | null;
}

export interface RunContext {
  broker: RunningBroker;
  settings: Settings;
  log(line: string): void;
}

export interface Measurement {
  /** By metric key; null when the broker cannot do it. */
  values: Record<string, number | null>;
  /** Messages received / messages the broker should have delivered (expected or acked). */
  deliveredShare: number | null;
  cpu: CpuUse | null;
  notes: string[];
  runs: GeneratorRun[];
  /** Anything else worth keeping in compare.json. */
  extra: Record<string, unknown>;
}

export interface Workload {
  id: number;
  key: string;
  title: string;
  /** The shape, with any scaling, for the table. */
  shape(settings: Settings): string;
  metrics: MetricSpec[];
  /** Mosquitto runs with `persistence true`, Aedes with aedes-persistence-level. */
  persistence: boolean;
  /** Measured this many times per broker, interleaved; the figures are medians (repeat.ts). */
  rounds: number;
  /** Only these brokers run it; null: all of them. */
  brokers: readonly BrokerName[] | null;
  /**
   * A reference row for another workload (its id): not judged against a target; RobustMQ's
   * figure in it is the one from that workload.
   */
  referenceFor: number | null;
  run(context: RunContext): Promise<Measurement>;
}

/** Workload 5's p99 moves more between runs than between brokers: the median of 3. */
export const LATENCY_ROUNDS = 3;

const THROUGHPUT_TARGET: Target = {
  aedesRatioMin: 3,
  mosquittoRatioMin: 1,
  atMostMosquitto: false,
  valueMax: null,
};
const DELIVERED: MetricSpec = {
  key: "deliveredPerSecond",
  label: "delivered msg/s",
  better: "higher",
  digits: 0,
  target: THROUGHPUT_TARGET,
};
/** Fan-out: the first step offers this share of what the unpaced probe delivered... */
const FANOUT_PACE_SHARE = 0.9;
/** ...then each step offers this much more while at least FANOUT_DELIVERED_SHARE_MIN arrives. */
const FANOUT_STEP_FACTOR = 1.3;
const FANOUT_DELIVERED_SHARE_MIN = 0.95;
/** A first step that drops more is retried at this share of its rate. */
const FANOUT_RETRY_SHARE = 0.6;
const FANOUT_STEPS_MAX = 4;
const FANOUT_STEP_SECONDS_MAX = 3;
const FANOUT_SUBSCRIBERS = 1000;

export function baseArgs(broker: RunningBroker, id: number, version = 4): string[] {
  return ["-p", String(broker.port), "-V", String(version), "--client-id-prefix", `w${id}-`];
}

/** Received / what should have arrived: expected (known fan-out), else acked (QoS 1), else sent. */
export function deliveredShare(summary: BenchSummary): number | null {
  if (summary.receive === null || summary.publish === null) return null;
  const { expectedCount } = summary.receive;
  const base =
    expectedCount ?? (summary.qos === 0 ? summary.publish.sentCount : summary.publish.ackedCount);
  return base > 0 ? summary.receive.receivedCount / base : null;
}

function errorNotes(summary: BenchSummary): string[] {
  return summary.errorCount === 0 ? [] : [`generator errors: ${errorText(summary)}`];
}

/** Below this delivered share, the note says what was taken and what arrived. */
const DELIVERED_SHARE_NOTE_BELOW = 0.95;

function lossNotes(summary: BenchSummary): string[] {
  const share = deliveredShare(summary);
  if (share === null || share >= DELIVERED_SHARE_NOTE_BELOW || summary.publish === null) return [];
  const number = (n: number): string => n.toLocaleString("en-US");
  const received = number(summary.receive?.receivedCount ?? 0);
  const taken =
    summary.qos === 0
      ? `${number(summary.publish.sentCount)} sent`
      : `${number(summary.publish.ackedCount)} acknowledged by the broker`;
  return [`${taken}, ${received} delivered: the broker dropped the rest`];
}

/** One measured generator run, with the broker's and the machine's CPU over it. */
async function measured(
  context: RunContext,
  args: readonly string[],
  seconds: number,
): Promise<{ run: GeneratorRun; cpu: CpuUse }> {
  const sampler = sampleCpu(context.broker.pid);
  let run: GeneratorRun;
  try {
    run = await runGenerator([...args, "-d", String(seconds)], seconds);
  } finally {
    sampler.end();
  }
  // The busiest stretch as long as 80% of the publishing phase.
  const cpu = sampler.busiest(
    Math.max(0.5, (run.summary.publish?.durationSeconds ?? seconds) * 0.8),
  );
  if (context.broker.exited()) throw new Error(`${context.broker.name} exited during the run`);
  return { run, cpu };
}

async function warmUp(context: RunContext, args: readonly string[]): Promise<GeneratorRun> {
  const seconds = context.settings.warmupSeconds;
  context.log(`warm-up ${seconds} s`);
  return runGenerator([...args, "-d", String(seconds)], seconds);
}

/** Warm-up, then measured: delivered messages per second and the delivered share. */
async function throughput(context: RunContext, args: readonly string[]): Promise<Measurement> {
  const warm = await warmUp(context, args);
  context.log(`measuring ${context.settings.seconds} s`);
  const { run, cpu } = await measured(context, args, context.settings.seconds);
  const receive = run.summary.receive;
  assert(receive !== null, "pubsub reports what was received");
  return {
    values: { deliveredPerSecond: Math.round(receive.messagesPerSecond) },
    deliveredShare: deliveredShare(run.summary),
    cpu,
    notes: [...lossNotes(run.summary), ...errorNotes(run.summary)],
    runs: [warm, run],
    extra: {},
  };
}

interface FanOutStep {
  rate: number;
  run: GeneratorRun;
  cpu: CpuUse;
  share: number;
}

async function fanOutStep(context: RunContext, args: string[], rate: number): Promise<FanOutStep> {
  const seconds = Math.min(context.settings.seconds, FANOUT_STEP_SECONDS_MAX);
  context.log(`step: ${seconds} s at ${rate} msg/s x ${FANOUT_SUBSCRIBERS} subscribers`);
  const { run, cpu } = await measured(context, [...args, "-r", String(rate)], seconds);
  return { rate, run, cpu, share: deliveredShare(run.summary) ?? 0 };
}

/** Steps up from `rate` while the broker keeps up; down once if the first step drops. */
async function fanOutSteps(
  context: RunContext,
  args: string[],
  rate: number,
): Promise<FanOutStep[]> {
  const steps: FanOutStep[] = [];
  while (steps.length < FANOUT_STEPS_MAX) {
    const step = await fanOutStep(context, args, rate);
    steps.push(step);
    const kept = step.share >= FANOUT_DELIVERED_SHARE_MIN;
    if (!kept && (steps.length > 1 || rate === 1)) break;
    rate = kept
      ? Math.ceil(rate * FANOUT_STEP_FACTOR)
      : Math.max(1, Math.floor(rate * FANOUT_RETRY_SHARE));
  }
  return steps;
}

const stepDelivered = (step: FanOutStep): number =>
  step.run.summary.receive?.messagesPerSecond ?? 0;

/**
 * Fan-out to 1,000 subscribers, paced, so that it measures deliveries rather than drops. An
 * unpaced probe (also the warm-up) shows roughly what the broker manages; then steps of up to
 * 3 s offer 90% of that, and 1.3x more per step while at least 95% arrives. The figure is the
 * best step that delivered 95%.
 */
async function fanOut(context: RunContext): Promise<Measurement> {
  const args = [
    "pubsub",
    ...baseArgs(context.broker, 3),
    ...["--publishers", "1", "--subscribers", String(FANOUT_SUBSCRIBERS), "-q", "0", "-s", "64"],
    ...["-t", "bench/w3"],
  ];
  const probeSeconds = Math.max(1, context.settings.warmupSeconds);
  context.log(`probe (unpaced, also the warm-up) ${probeSeconds} s`);
  const probe = await runGenerator([...args, "-r", "0", "-d", String(probeSeconds)], probeSeconds);
  const capacity = probe.summary.receive?.messagesPerSecond ?? 0;
  const first = Math.max(1, Math.floor((capacity * FANOUT_PACE_SHARE) / FANOUT_SUBSCRIBERS));
  const steps = await fanOutSteps(context, args, first);
  const kept = steps.filter((s) => s.share >= FANOUT_DELIVERED_SHARE_MIN);
  const best = kept.sort((a, b) => stepDelivered(b) - stepDelivered(a))[0] ?? steps.at(-1);
  assert(best !== undefined, "at least one step ran");
  const offered = (best.rate * FANOUT_SUBSCRIBERS).toLocaleString("en-US");
  const tried = steps.map((s) => `${s.rate}/s: ${Math.round(s.share * 100)}%`).join(", ");
  return {
    values: { deliveredPerSecond: Math.round(stepDelivered(best)) },
    deliveredShare: best.share,
    cpu: best.cpu,
    notes: [
      `best step paced at ${best.rate} msg/s (${offered} deliveries/s offered); steps ${tried}`,
      ...errorNotes(best.run.summary),
    ],
    runs: [probe, ...steps.map((s) => s.run)],
    extra: { probeDeliveredPerSecond: Math.round(capacity), paceMessagesPerSecond: best.rate },
  };
}

/** Shared subscription: Aedes 1.x has none, so its filter `$share/g/...` matches nothing. */
async function shared(context: RunContext): Promise<Measurement> {
  const args = [
    "pubsub",
    ...baseArgs(context.broker, 4),
    ...["--publishers", "50", "--subscribers", "10", "-q", "1", "-s", "64"],
    ...["-t", "bench/w4", "--sub-topic", "$share/g/bench/w4"],
  ];
  const measurement = await throughput(context, args);
  const received = measurement.runs.at(-1)?.summary.receive?.receivedCount ?? 0;
  if (received === 0) {
    measurement.values.deliveredPerSecond = null;
    measurement.deliveredShare = null;
    const summary = measurement.runs.at(-1)?.summary;
    const errors = summary === undefined ? [] : errorNotes(summary);
    measurement.notes = [
      "no shared subscriptions: `$share/g/bench/w4` delivered nothing",
      ...errors,
    ];
  }
  return measurement;
}

async function latency(context: RunContext): Promise<Measurement> {
  const args = [
    "pubsub",
    ...baseArgs(context.broker, 5),
    ...["--publishers", "10", "--subscribers", "10", "-q", "1", "-s", "64", "-r", "1000"],
    ...["-t", "bench/w5/%i"],
  ];
  const measurement = await throughput(context, args);
  const receive = measurement.runs.at(-1)?.summary.receive ?? null;
  const micros = receive?.latencyMicros ?? null;
  const perSecond = Math.round(receive?.messagesPerSecond ?? 0).toLocaleString("en-US");
  return {
    ...measurement,
    values: {
      p50Ms: micros === null ? null : micros.p50 / 1000,
      p99Ms: micros === null ? null : micros.p99 / 1000,
    },
    notes: [`${perSecond} msg/s delivered`, ...measurement.notes],
  };
}

const DURABILITY_NOTES: Readonly<Record<BrokerName, string>> = {
  robustmq:
    "durable: every PUBACK after the message is fsynced to the message log (group commit, fsync_policy always)",
  mosquitto:
    "persistence true: a snapshot at autosave_interval (1800 s) and at exit, no fsync per message",
  aedes:
    "MQTT 3.1.1 clean session false (no MQTT 5); aedes-persistence-level on classic-level " +
    "(LevelDB): before the PUBACK the message is put into LevelDB once per persistent " +
    "subscriber, written to LevelDB's log without fsync (sync: false)",
};
const AEDES_IN_MEMORY_NOTE =
  "reference: MQTT 3.1.1 clean session false; Aedes's default in-memory persistence, not durable";

/**
 * Persistent sessions: the measured run resumes the sessions the warm-up created. `durableAedes`
 * false: the in-memory Aedes of the reference row (the broker is started without persistence).
 */
function durable(durableAedes: boolean) {
  return async (context: RunContext): Promise<Measurement> => {
    const { name } = context.broker;
    const session = name === "aedes" ? [] : ["--session-expiry", "3600"];
    const args = [
      "pubsub",
      ...baseArgs(context.broker, 7, name === "aedes" ? 4 : 5),
      ...["--publishers", "10", "--subscribers", "10", "-q", "1", "-s", "64"],
      ...["-t", "bench/w7/%i", "--clean-start", "false", ...session],
    ];
    const measurement = await throughput(context, args);
    const inMemory = name === "aedes" && !durableAedes;
    measurement.notes.unshift(inMemory ? AEDES_IN_MEMORY_NOTE : DURABILITY_NOTES[name]);
    return measurement;
  };
}

function pubsubWorkload(id: number, flags: readonly string[]) {
  return (context: RunContext): Promise<Measurement> =>
    throughput(context, ["pubsub", ...baseArgs(context.broker, id), ...flags]);
}

const fixed = (text: string) => (): string => text;

export const WORKLOADS: readonly Workload[] = [
  {
    id: 1,
    key: "qos0-1to1",
    title: "QoS 0, 1 pub -> 1 sub",
    shape: fixed("64 B, unlimited rate"),
    metrics: [DELIVERED],
    persistence: false,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: pubsubWorkload(1, ["--publishers", "1", "--subscribers", "1", "-q", "0", "-s", "64"]),
  },
  {
    id: 2,
    key: "qos1-100to1",
    title: "QoS 1, 100 pubs -> 1 sub",
    shape: fixed("100 topics, 1 wildcard subscriber, 32 in flight per publisher"),
    metrics: [DELIVERED],
    persistence: false,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: pubsubWorkload(2, [
      ...["--publishers", "100", "--subscribers", "1", "-q", "1", "-s", "64"],
      ...["-t", "bench/w2/%i", "--sub-topic", "bench/w2/+"],
    ]),
  },
  {
    id: 3,
    key: "fanout-1to1000",
    title: "Fan-out, 1 pub -> 1,000 subs",
    shape: fixed("QoS 0, one topic, publisher paced below the broker's capacity"),
    metrics: [DELIVERED],
    persistence: false,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: fanOut,
  },
  {
    id: 4,
    key: "shared-50to10",
    title: "Shared sub, 50 pubs -> $share/g/t x 10",
    shape: fixed("QoS 1, 32 in flight per publisher"),
    metrics: [DELIVERED],
    persistence: false,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: shared,
  },
  {
    id: 5,
    key: "latency-10k",
    title: "Latency at 10,000 msg/s",
    shape: fixed("QoS 1, 10 pubs x 1,000 msg/s -> 10 subs, end to end"),
    metrics: [
      { key: "p50Ms", label: "p50 ms", better: "lower", digits: 2, target: null },
      {
        key: "p99Ms",
        label: "p99 ms",
        better: "lower",
        digits: 2,
        target: {
          aedesRatioMin: null,
          mosquittoRatioMin: null,
          atMostMosquitto: true,
          valueMax: null,
        },
      },
    ],
    persistence: false,
    rounds: LATENCY_ROUNDS,
    brokers: null,
    referenceFor: null,
    run: latency,
  },
  {
    id: 6,
    key: "connections",
    title: "Idle connections",
    shape: (s) =>
      `${s.connectionCount.toLocaleString("en-US")} (scaled down: 20,000 open files per process; ` +
      "RobustMQ max_connections raised above 10,000 only when needed), from 127.0.0.2-127.0.0.20",
    metrics: [
      { key: "connectPerSecond", label: "connect/s", better: "higher", digits: 0, target: null },
      {
        key: "rssPerConnectionKiB",
        label: "RSS KiB/conn",
        better: "lower",
        digits: 2,
        target: {
          aedesRatioMin: null,
          mosquittoRatioMin: null,
          atMostMosquitto: false,
          valueMax: 4,
        },
      },
    ],
    persistence: false,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: measureConnections,
  },
  {
    id: 7,
    key: "durable-qos1",
    title: "Durable QoS 1, persistent sessions",
    shape: fixed(
      "10 pubs -> 10 subs, clean start false, session expiry 3600 s (MQTT 5); " +
        "Aedes on disk (aedes-persistence-level, LevelDB)",
    ),
    metrics: [DELIVERED],
    persistence: true,
    rounds: 1,
    brokers: null,
    referenceFor: null,
    run: durable(true),
  },
  {
    id: 7,
    key: "aedes-in-memory",
    title: "Reference for 7: Aedes in memory (not durable)",
    shape: fixed("as 7, Aedes with its default in-memory persistence; RobustMQ's figure from 7"),
    metrics: [{ ...DELIVERED, target: null }],
    persistence: false,
    rounds: 1,
    brokers: ["aedes"],
    referenceFor: 7,
    run: durable(false),
  },
];
