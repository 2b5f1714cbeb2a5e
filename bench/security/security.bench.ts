/**
 * What security costs, in one run on one machine, with `robustmq bench mqtt` as the load:
 *
 *   (a) ACL        QoS 0 pub/sub throughput with no rules, then with 10,000 rules that the
 *                  clients' topics must walk past (the allowing rule is the last one), with the
 *                  per-client decision cache on (the default) and off. Target: >= 90% of no ACL.
 *   (b) TLS        connections per second over TLS (full handshakes) and over plain TCP, and
 *                  QoS 0 throughput over TLS and plain TCP.
 *
 * Each figure is the median of --repeat rounds; a round runs every variant of a comparison in turn.
 *
 *   node bench/security/security.bench.ts [--repeat 3] [--seconds 5] [--rules 10000]
 *        [--clients 10] [--connections 1000]
 *
 * Prints one JSON line per measurement, then a Markdown table.
 */
import type { BenchSummary } from "../../src/bench/summary.ts";
import { runBenchCli } from "../../test/helpers/bench-cli.ts";
import { startBroker } from "../../test/helpers/broker-process.ts";
import { makeTestCerts, tlsConfig } from "../../test/helpers/tls-certs.ts";

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const repeat = Number(argument("repeat", "3"));
const seconds = Number(argument("seconds", "5"));
const ruleCount = Number(argument("rules", "10000"));
const clients = Number(argument("clients", "10"));
const connections = Number(argument("connections", "1000"));
const RUN_TIMEOUT_MS = 120_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Rules every publish walks past before the last one allows `bench/#`. */
function aclConfig(cacheMaxTopics: number): string {
  const rules: string[] = [];
  for (let i = 0; i < ruleCount - 1; i++) {
    rules.push(`{ permission = "deny", action = "publish", topic = "secret/${i}/#" }`);
  }
  rules.push('{ permission = "allow", action = "all", topic = "bench/#" }');
  return `[mqtt_acl]\nno_match = "deny"\ncache_max_topics = ${cacheMaxTopics}\nrules = [\n${rules.join(",\n")}\n]\n`;
}

async function pubsub(config: string, extraArgs: string[] = [], tlsPort = false): Promise<number> {
  const broker = await startBroker({ config, logLevel: "info" });
  try {
    const port = tlsPort ? broker.ports.mqtts : broker.port;
    const run = await runBenchCli<BenchSummary>(
      "mqtt",
      [
        "pubsub",
        "-p",
        String(port),
        "--publishers",
        String(clients),
        "--subscribers",
        String(clients),
        "-t",
        "bench/%i",
        "-d",
        String(seconds),
        ...extraArgs,
      ],
      RUN_TIMEOUT_MS,
    );
    return run.summary.receive?.messagesPerSecond ?? 0;
  } finally {
    await broker.stop();
  }
}

async function connectRate(config: string, extraArgs: string[], tlsPort: boolean): Promise<number> {
  const broker = await startBroker({ config, logLevel: "info" });
  try {
    const port = tlsPort ? broker.ports.mqtts : broker.port;
    const run = await runBenchCli<BenchSummary>(
      "mqtt",
      ["conn", "-p", String(port), "-c", String(connections), "-d", "1", ...extraArgs],
      RUN_TIMEOUT_MS,
    );
    return run.summary.connect.ratePerSecond ?? 0;
  } finally {
    await broker.stop();
  }
}

interface Row {
  name: string;
  value: number;
  unit: string;
  ratioTo?: string;
}

interface Variant {
  name: string;
  unit: string;
  run: () => Promise<number>;
}

/**
 * Runs the variants in turn, `repeat` rounds, so a change in the machine's load (other work on
 * a shared machine) falls on every variant of a comparison alike; the first is the reference.
 */
async function compare(variants: Variant[]): Promise<Row[]> {
  const values: number[][] = variants.map(() => []);
  for (let round = 0; round < repeat; round++) {
    for (const [i, variant] of variants.entries()) {
      const value = await variant.run();
      console.log(JSON.stringify({ bench: "security", name: variant.name, round, value }));
      values[i].push(value);
    }
  }
  return variants.map((variant, i) => ({
    name: variant.name,
    unit: variant.unit,
    value: median(values[i]),
    ratioTo: i === 0 ? undefined : variants[0].name,
  }));
}

const certs = makeTestCerts();
const tls = `${tlsConfig(certs)}[mqtt_tls]\nenable = true\nport = 0\n`;
const tlsArgs = ["--tls", "--ca", certs.caFile];
try {
  const rows: Row[] = [
    ...(await compare([
      { name: "QoS 0 pub/sub, no ACL", unit: "msg/s", run: () => pubsub("") },
      {
        name: `QoS 0 pub/sub, ${ruleCount} rules, cache on`,
        unit: "msg/s",
        run: () => pubsub(aclConfig(64)),
      },
      {
        name: `QoS 0 pub/sub, ${ruleCount} rules, cache off`,
        unit: "msg/s",
        run: () => pubsub(aclConfig(0)),
      },
    ])),
    ...(await compare([
      { name: "connections/s, TCP", unit: "conn/s", run: () => connectRate("", [], false) },
      {
        name: "connections/s, TLS handshakes",
        unit: "conn/s",
        run: () => connectRate(tls, tlsArgs, true),
      },
    ])),
    ...(await compare([
      { name: "QoS 0 pub/sub, TCP", unit: "msg/s", run: () => pubsub(tls) },
      { name: "QoS 0 pub/sub, TLS", unit: "msg/s", run: () => pubsub(tls, tlsArgs, true) },
    ])),
  ];

  console.log(`\n| Measurement (median of ${repeat}) | Value | Ratio |\n| --- | ---: | ---: |`);
  for (const row of rows) {
    const reference = rows.find((r) => r.name === row.ratioTo);
    const ratio = reference === undefined ? "" : (row.value / reference.value).toFixed(2);
    console.log(
      `| ${row.name} | ${Math.round(row.value).toLocaleString("en")} ${row.unit} | ${ratio} |`,
    );
  }
} finally {
  certs.remove();
}
