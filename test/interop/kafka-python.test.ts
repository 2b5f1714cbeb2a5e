/**
 * kafka-python (Debian's python3-kafka 2.0) against the real broker process: a client of an
 * older protocol generation (JoinGroup v0-2 among them) produces keyed records with acks=all,
 * then two members of one consumer group share the partitions and read everything, and a
 * member that comes later resumes after their committed offsets; its admin client alters and
 * reads back a topic config and is told ACLs are not managed where no one is authenticated; and
 * it logs in with each SASL mechanism (SaslHandshake v0, raw tokens) on a node with users.
 * Run by test/interop/run.sh,
 * which installs python3-kafka; a missing package fails here rather than skipping.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ADMIN_CONFIG, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";

const run = promisify(execFile);
/** Debian's interpreter, where apt-get puts python3-kafka (not a pyenv or venv one). */
const PYTHON = "/usr/bin/python3";
const CLIENT = fileURLToPath(new URL("./kafka-python-client.py", import.meta.url));
const RECORD_COUNT = 30;
const MEMBER_SECONDS = 8;

let broker: BrokerProcess;
let bootstrap: string;

interface Consumed {
  values: string[];
  assignment: number[];
}

async function client(...args: string[]): Promise<string> {
  const { stdout } = await run(PYTHON, [CLIENT, ...args], { timeout: 60_000 });
  return stdout.trim().split("\n").at(-1) ?? "";
}

/** A group member for `seconds`; its assignment as it was at `atMs` (epoch milliseconds). */
async function member(group: string, seconds: number, atMs: number): Promise<Consumed> {
  const at = String(atMs / 1000);
  return JSON.parse(await client("consume", bootstrap, "py-topic", group, String(seconds), at));
}

before(async () => {
  const probe = spawnSync(PYTHON, ["-c", "import kafka"]);
  assert.equal(probe.status, 0, "python3-kafka is installed (apt-get install python3-kafka)");
  broker = await startBroker({
    logLevel: "info",
    config: "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n",
  });
  bootstrap = `127.0.0.1:${broker.kafkaPort}`;
});

after(async () => {
  await broker?.stop();
});

test("produce, a group of two sharing three partitions, and a later member resuming", async () => {
  assert.deepEqual(
    JSON.parse(await client("produce", bootstrap, "py-topic", String(RECORD_COUNT))),
    {
      produced: RECORD_COUNT,
    },
  );
  // Noted while both are in the group, before either leaves (the other then takes everything).
  const splitAtMs = Date.now() + (MEMBER_SECONDS - 2) * 1000;
  const first = member("py-group", MEMBER_SECONDS, splitAtMs);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const second = member("py-group", MEMBER_SECONDS - 1, splitAtMs);
  const [a, b] = await Promise.all([first, second]);
  // Both stayed members (before v5, JoinGroup carries no instance id: neither fences the other)
  // and split the partitions between them.
  assert.ok(a.assignment.length > 0 && b.assignment.length > 0, JSON.stringify([a, b]));
  assert.deepEqual([...a.assignment, ...b.assignment].sort(), [0, 1, 2]);
  const expected = Array.from({ length: RECORD_COUNT }, (_, i) => `v${i}`).sort();
  assert.deepEqual([...new Set([...a.values, ...b.values])].sort(), expected);
  // Everything was committed: a member that comes later finds nothing left to read.
  const later = await member("py-group", 4, Date.now() + 3000);
  assert.deepEqual(later.values, []);
  assert.deepEqual(later.assignment, [0, 1, 2]);
});

test("admin: a topic config altered and read back; ACL requests told security is off", async () => {
  // This listener authenticates no one, so Kafka's answer to the ACL APIs is SECURITY_DISABLED.
  const answer = JSON.parse(await client("admin", bootstrap, "py-admin"));
  assert.deepEqual(answer, {
    alterErrors: [0],
    retentionMs: "3600000",
    created: 0,
    failed: ["SecurityDisabledError"],
    listed: 0,
    listError: "SecurityDisabledError",
  });
});

test("SASL login (SaslHandshake v0, raw tokens): each mechanism; a wrong password gets nothing", async () => {
  const secured = await startBroker({
    logLevel: "info",
    config: `${ADMIN_CONFIG}[mqtt_auth]\nauthenticators = ["built_in"]\n`,
  });
  try {
    const api = await adminApi(secured);
    const user = { username: "alice", password: "alice-secret", superuser: false };
    assert.equal((await api.call("POST", "/api/v1/users", user)).status, 201);
    const at = `127.0.0.1:${secured.kafkaPort}`;
    for (const mechanism of ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]) {
      const topic = `py-sasl-${mechanism}`;
      const answer = await client("sasl", at, topic, mechanism, "alice", "alice-secret");
      assert.deepEqual(JSON.parse(answer), { read: mechanism });
    }
    for (const mechanism of ["PLAIN", "SCRAM-SHA-512"]) {
      const answer = await client("sasl", at, "py-sasl-refused", mechanism, "alice", "wrong");
      // kafka-python retries a refused login until its max_block_ms, then gives up.
      assert.deepEqual(JSON.parse(answer), { error: "KafkaTimeoutError" });
      await secured.waitForLog(
        (l) => /^Kafka authentication failed/.test(l.msg) && l.mechanism === mechanism,
        3000,
      );
    }
  } finally {
    await secured.stop();
  }
});
