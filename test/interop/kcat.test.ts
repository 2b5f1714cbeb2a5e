/**
 * kcat (librdkafka, the Debian package) against the real broker process: it consumes what
 * kafkajs produced (gzip batches included), produces to several partitions, round-trips every
 * compression codec (stored compressed, read back byte for byte), reads megabytes sent with
 * sendfile (src/broker/kafka/zero-copy.ts) and consumes as a member of
 * a consumer group (-G), resuming from the offsets it committed. Run by
 * test/interop/run.sh, which installs kcat; a missing kcat fails here rather than skipping.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type Admin, CompressionTypes, Kafka, logLevel } from "kafkajs";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { fetchCompressions } from "../helpers/kafka-wire.ts";

const run = promisify(execFile);

let broker: BrokerProcess;
let kafka: Kafka;
let brokers: string;

before(async () => {
  assert.equal(spawnSync("kcat", ["-V"]).status, 0, "kcat is installed (apt-get install kcat)");
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  broker = await startBroker({
    logLevel: "info",
    config: "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n",
  });
  brokers = `127.0.0.1:${broker.kafkaPort}`;
  kafka = new Kafka({
    clientId: "robustmq-interop",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50 },
  });
});

after(async () => {
  await broker?.stop();
});

test("consumes what kafkajs produced, gzip batches included, across partitions", async () => {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: "to-kcat",
    compression: CompressionTypes.GZIP,
    messages: [
      { key: "k1", value: "zipped-1" },
      { key: "k2", value: "zipped-2" },
    ],
  });
  await producer.send({ topic: "to-kcat", messages: [{ key: "k3", value: "plain-3" }] });
  await producer.disconnect();
  const { stdout } = await run(
    "kcat",
    [
      "-b",
      brokers,
      "-C",
      "-t",
      "to-kcat",
      "-p",
      "0",
      "-o",
      "beginning",
      "-e",
      "-q",
      "-f",
      "%o %k %s\\n",
    ],
    { timeout: 15_000 },
  );
  assert.equal(stdout, "0 k1 zipped-1\n1 k2 zipped-2\n2 k3 plain-3\n");
});

test("kcat -L lists this broker as the only one, and each topic's partitions and leader", async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "kcat-listed", numPartitions: 3 }] });
  await admin.disconnect();
  const { stdout } = await run("kcat", ["-b", brokers, "-L", "-J"], { timeout: 15_000 });
  const metadata = JSON.parse(stdout) as {
    brokers: Array<{ id: number; name: string }>;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }>;
  };
  assert.equal(metadata.brokers.length, 1);
  assert.equal(metadata.brokers[0].name, brokers);
  const listed = metadata.topics.find((t) => t.topic === "kcat-listed");
  assert.deepEqual(
    listed?.partitions.map((p) => [p.partition, p.leader]),
    [0, 1, 2].map((p) => [p, metadata.brokers[0].id]),
  );
});

test("kcat produces and reads back from several partitions", async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "kcat-parts", numPartitions: 2 }] });
  await admin.disconnect();
  for (const partition of ["0", "1"]) {
    const child = execFile("kcat", ["-b", brokers, "-P", "-t", "kcat-parts", "-p", partition], {
      timeout: 15_000,
    });
    child.stdin?.end(`p${partition}-a\np${partition}-b\n`);
    await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(child.exitCode, 0);
  }
  for (const partition of ["0", "1"]) {
    const { stdout } = await run(
      "kcat",
      ["-b", brokers, "-C", "-t", "kcat-parts", "-p", partition, "-o", "beginning", "-e", "-q"],
      { timeout: 15_000 },
    );
    assert.equal(stdout, `p${partition}-a\np${partition}-b\n`);
  }
});

/** Runs kcat with `input` on stdin; resolves with its stdout, rejects on a non-zero exit. */
async function kcat(args: string[], input = ""): Promise<string> {
  const child = execFile("kcat", ["-b", brokers, ...args], {
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.stdin?.end(input);
  const code = await new Promise((resolve) => child.once("exit", resolve));
  assert.equal(code, 0, `kcat ${args.join(" ")} failed: ${stderr}`);
  return stdout;
}

/** The compression code of every batch stored in partition 0 of `topic`. */
function storedCompression(topic: string): Promise<number[]> {
  return fetchCompressions(broker.kafkaPort ?? 0, topic, 0);
}

for (const [codec, code] of [
  ["gzip", 1],
  ["snappy", 2],
  ["lz4", 3],
  ["zstd", 4],
] as const) {
  test(`${codec}: kcat produces compressed batches and reads back the exact payloads`, async () => {
    const topic = `codec-${codec}`;
    // Repetitive lines compress well; the random ones check bytes survive exactly.
    const lines = [
      ...Array.from({ length: 50 }, (_, i) => `${codec} line ${i} ${"x".repeat(200)}`),
      ...Array.from({ length: 50 }, () => randomBytes(150).toString("base64")),
    ];
    await kcat(
      ["-P", "-t", topic, "-p", "0", "-z", codec, "-X", "linger.ms=50"],
      `${lines.join("\n")}\n`,
    );
    const codes = await storedCompression(topic);
    assert.ok(codes.length > 0 && codes.every((c) => c === code), `stored ${codes.join(",")}`);
    const out = await kcat(["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"]);
    assert.equal(out, `${lines.join("\n")}\n`);
  });
}

async function sendfileBytes(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.ports.admin}/metrics`)).text();
  const match = /^robustmq_kafka_fetch_bytes_total\{path="sendfile"\} (\d+)/m.exec(text);
  return Number(match?.[1] ?? 0);
}

test("kcat reads megabytes the broker sends with sendfile, byte for byte", async () => {
  const lines = Array.from({ length: 6000 }, () => randomBytes(768).toString("base64"));
  await kcat(["-P", "-t", "kcat-big", "-p", "0", "-X", "linger.ms=20"], `${lines.join("\n")}\n`);
  const before = await sendfileBytes();
  const out = await kcat(["-C", "-t", "kcat-big", "-p", "0", "-o", "beginning", "-e", "-q"]);
  assert.ok(out === `${lines.join("\n")}\n`, "every line as produced, in order");
  const sent = (await sendfileBytes()) - before;
  assert.ok(sent > 5_000_000, `${sent} bytes went by sendfile`);
});

/**
 * Runs `body` with a new topic of `partitions` partitions, a kafkajs admin and a `send` that
 * spreads values over the partitions in turn.
 */
async function withTopic(
  topic: string,
  partitions: number,
  body: (admin: Admin, send: (values: string[]) => Promise<unknown>) => Promise<void>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  const producer = kafka.producer();
  await producer.connect();
  const send = (values: string[]) =>
    producer.send({
      topic,
      messages: values.map((value, i) => ({ value, partition: i % partitions })),
    });
  try {
    await body(admin, send);
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

test("kcat -G consumes as a group member and resumes after its committed offsets", async () => {
  const group = ["-G", "kcat-consumers", "-X", "auto.offset.reset=earliest", "-e", "-q"];
  await withTopic("kcat-group", 3, async (admin, send) => {
    await send(["g1", "g2", "g3", "g4", "g5", "g6"]);
    const first = await kcat([...group, "kcat-group"]);
    assert.deepEqual(first.trim().split("\n").sort(), ["g1", "g2", "g3", "g4", "g5", "g6"]);
    const committed = await admin.fetchOffsets({
      groupId: "kcat-consumers",
      topics: ["kcat-group"],
    });
    assert.deepEqual(committed[0].partitions.map((p) => [p.partition, p.offset]).sort(), [
      [0, "2"],
      [1, "2"],
      [2, "2"],
    ]);
    await send(["h1", "h2", "h3"]);
    const second = await kcat([...group, "kcat-group"]);
    assert.deepEqual(second.trim().split("\n").sort(), ["h1", "h2", "h3"]);
  });
});

test("kcat with group.instance.id restarts as the same static member, without a rebalance wait", async () => {
  // librdkafka sends no LeaveGroup for a static member: the second run finds the first one's
  // membership still there, and would wait out its session timeout were it not taken over.
  const group = [
    ...["-G", "kcat-static-group", "-X", "auto.offset.reset=earliest"],
    ...["-X", "group.instance.id=kcat-host-1", "-X", "session.timeout.ms=60000", "-e", "-q"],
  ];
  await withTopic("kcat-static", 2, async (_admin, send) => {
    await send(["s1", "s2", "s3", "s4"]);
    const first = await kcat([...group, "kcat-static"]);
    assert.deepEqual(first.trim().split("\n").sort(), ["s1", "s2", "s3", "s4"]);
    await send(["t1", "t2"]);
    const started = Date.now();
    const second = await kcat([...group, "kcat-static"]);
    assert.deepEqual(second.trim().split("\n").sort(), ["t1", "t2"]);
    assert.ok(Date.now() - started < 20_000, "no wait for the old membership to time out");
  });
});
