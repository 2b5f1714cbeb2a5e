/**
 * kcat (librdkafka, the Debian package) against the real broker process: it consumes what
 * kafkajs produced (gzip batches included) and produces to several partitions. Run by
 * test/interop/run.sh, which installs kcat; a missing kcat fails here rather than skipping.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";

const run = promisify(execFile);

let broker: BrokerProcess;
let kafka: Kafka;
let brokers: string;

before(async () => {
  assert.equal(spawnSync("kcat", ["-V"]).status, 0, "kcat is installed (apt-get install kcat)");
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  broker = await startBroker({ logLevel: "info" });
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
