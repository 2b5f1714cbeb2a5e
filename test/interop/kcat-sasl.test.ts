/**
 * kcat (librdkafka) over SASL_SSL: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN against a built-in
 * user, produce and consume byte for byte; a wrong password and a client without SASL get
 * nothing. Run by test/interop/run.sh, which installs kcat.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ADMIN_CONFIG, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";

const run = promisify(execFile);
const PASSWORD = "kcat-secret";

let broker: BrokerProcess;
let certs: TestCerts;

before(async () => {
  assert.equal(spawnSync("kcat", ["-V"]).status, 0, "kcat is installed (apt-get install kcat)");
  certs = makeTestCerts();
  broker = await startBroker({
    logLevel: "info",
    config: `${ADMIN_CONFIG}[mqtt_auth]\nauthenticators = ["built_in"]\n[kafka]\ntls = true\n${tlsConfig(certs)}`,
  });
  const api = await adminApi(broker);
  const reply = await api.call("POST", "/api/v1/users", { username: "kc", password: PASSWORD });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
});

after(async () => {
  await broker?.stop();
  certs?.remove();
});

function kcat(mechanism: string, password: string, args: string[]) {
  const security = [
    ["security.protocol", "SASL_SSL"],
    ["sasl.mechanism", mechanism],
    ["sasl.username", "kc"],
    ["sasl.password", password],
    ["ssl.ca.location", certs.caFile],
    ["ssl.endpoint.identification.algorithm", "none"],
  ].flatMap(([key, value]) => ["-X", `${key}=${value}`]);
  const brokers = `127.0.0.1:${broker.kafkaPort}`;
  return run("kcat", ["-b", brokers, ...security, ...args], { timeout: 15_000 });
}

for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]) {
  test(`${mechanism} over TLS: produce, then consume the same bytes`, async () => {
    const topic = `sasl-${mechanism.toLowerCase()}`;
    const producer = kcat(mechanism, PASSWORD, ["-P", "-t", topic, "-K:"]);
    producer.child.stdin?.end("k1:first\nk2:second\n");
    await producer;
    const { stdout } = await kcat(mechanism, PASSWORD, [
      ...["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"],
      ...["-f", "%o %k %s\\n"],
    ]);
    assert.equal(stdout, "0 k1 first\n1 k2 second\n");
  });
}

test("a wrong password lists nothing and is logged", async () => {
  await assert.rejects(kcat("SCRAM-SHA-512", "wrong", ["-L", "-m", "3"]));
  await broker.waitForLog((l) => /^Kafka authentication failed/.test(l.msg), 3000);
});
