/**
 * `robustmq ctl` as a child process against a real broker process: every command, both output
 * formats, the three ways to authenticate, and the exit status and message of each failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { IDisconnectPacket, MqttClient } from "mqtt";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";
import {
  ClientTracker,
  connectMqtt,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";

const PASSWORD = "ctl-test-password";

/** Runs `robustmq ctl ...` (async: the broker's log pipe must keep draining meanwhile). */
function ctl(args: string[], env: Record<string, string> = {}): Promise<CtlRun> {
  return runCtl(args, { env });
}

function parsed(run: CtlRun): Record<string, unknown> {
  assert.equal(run.status, 0, `stderr: ${run.stderr}\nstdout: ${run.stdout}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

type Item = Record<string, unknown>;

describe("robustmq ctl", () => {
  let broker: BrokerProcess;
  let server: string;
  let login: string[];
  const track = new ClientTracker();
  let subscriberId: string;
  let subscriber: MqttClient;

  before(async () => {
    broker = await startBroker({
      config: `[admin]\npassword = "${PASSWORD}"\n`,
      logLevel: "info",
    });
    const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
    server = `http://127.0.0.1:${String(line.address).split(":").pop()}`;
    login = ["--server", server, "--username", "admin", "--password", PASSWORD];
    subscriberId = uniqueName("ctl-sub");
    subscriber = track.mqtt(
      await connectMqtt(broker.url, {
        clientId: subscriberId,
        protocolVersion: 5,
        username: "carol",
        clean: false,
        properties: { sessionExpiryInterval: 120 },
      }),
    );
    await subscriber.subscribeAsync("ctl/+/data", { qos: 1 });
    await subscriber.publishAsync("ctl/keep/data", "retained!", { qos: 1, retain: true });
  });
  after(async () => {
    await track.closeAll();
    await broker.stop();
  });

  test("status --output json", async () => {
    const body = parsed(await ctl([...login, "status", "--output", "json"]));
    assert.equal(body.clusterName, "robustmq");
    const listeners = body.listeners as Record<string, { port: number }>;
    assert.equal(listeners.mqtt.port, broker.port);
    assert.equal(`http://127.0.0.1:${listeners.admin.port}`, server);
  });

  test("status as a table", async () => {
    const run = await ctl([...login, "status"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^clusterName\s+robustmq$/m);
    assert.match(run.stdout, /^listeners\.mqtt\.port\s+\d+$/m);
  });

  test("clients list: json fields and a table with the client id", async () => {
    const body = parsed(await ctl([...login, "--output", "json", "clients", "list"]));
    const client = (body.data as Item[]).find((c) => c.clientId === subscriberId);
    assert.ok(client !== undefined, JSON.stringify(body));
    assert.equal(client.username, "carol");
    assert.equal(client.connected, true);
    assert.equal(client.protocolVersion, 5);
    assert.equal(client.subscriptionsCount, 1);
    const table = await ctl([...login, "clients", "list", "--client-id", subscriberId]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^CLIENT ID\s+CONNECTED\s+USERNAME/);
    assert.ok(table.stdout.includes(subscriberId), table.stdout);
    assert.match(table.stdout, /^1 of 1$/m);
  });

  test("clients list --limit pages and --client-username filters", async () => {
    const body = parsed(
      await ctl([...login, "--output", "json", "clients", "list", "--limit", "1"]),
    );
    assert.equal((body.data as Item[]).length, 1);
    const filtered = parsed(
      await ctl([...login, "--output", "json", "clients", "list", "--client-username", "carol"]),
    );
    assert.deepEqual(
      (filtered.data as Item[]).map((c) => c.clientId),
      [subscriberId],
    );
  });

  test("clients show ID", async () => {
    const body = parsed(await ctl([...login, "--output", "json", "clients", "show", subscriberId]));
    assert.equal(body.clientId, subscriberId);
    const table = await ctl([...login, "clients", "show", subscriberId]);
    assert.match(table.stdout, new RegExp(`^clientId\\s+${subscriberId}$`, "m"));
  });

  test("sessions list and subscriptions list --client-id", async () => {
    const sessions = parsed(
      await ctl([...login, "--output", "json", "sessions", "list", "--client-id", subscriberId]),
    );
    assert.equal((sessions.data as Item[])[0].expiryIntervalS, 120);
    const subs = parsed(
      await ctl([
        ...login,
        "--output",
        "json",
        "subscriptions",
        "list",
        "--client-id",
        subscriberId,
      ]),
    );
    assert.deepEqual(
      (subs.data as Item[]).map((s) => [s.filter, s.qos]),
      [["ctl/+/data", 1]],
    );
    const table = await ctl([...login, "subscriptions", "list", "--client-id", subscriberId]);
    assert.ok(table.stdout.includes("ctl/+/data"), table.stdout);
    const sessionTable = await ctl([...login, "sessions", "list"]);
    assert.ok(sessionTable.stdout.includes(subscriberId), sessionTable.stdout);
  });

  test("retained list --filter and retained delete TOPIC", async () => {
    const list = parsed(
      await ctl([...login, "--output", "json", "retained", "list", "--filter", "ctl/#"]),
    );
    assert.deepEqual(
      (list.data as Item[]).map((r) => r.topic),
      ["ctl/keep/data"],
    );
    const table = await ctl([...login, "retained", "list", "--filter", "ctl/#"]);
    assert.match(table.stdout, /ctl\/keep\/data\s+1\s+9\s+-\s+"retained!"/);
    const deleted = parsed(
      await ctl([...login, "--output", "json", "retained", "delete", "ctl/keep/data"]),
    );
    assert.deepEqual(deleted, { topic: "ctl/keep/data", deleted: true });
    const again = await ctl([...login, "retained", "delete", "ctl/keep/data"]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /RMQ_ERR_CTL_REQUEST_FAILED: .*404.*RMQ_ERR_ADMIN_NOT_FOUND/);
  });

  test("storage mqtt, kafka topics list and show", async () => {
    const storage = parsed(await ctl([...login, "--output", "json", "storage", "mqtt"]));
    assert.equal(storage.fsyncPolicy, "always");
    assert.ok(Number(storage.persistentSessions) >= 1, "the subscriber's session is persisted");
    const storageTable = await ctl([...login, "storage", "mqtt"]);
    assert.equal(storageTable.status, 0, storageTable.stderr);
    assert.match(storageTable.stdout, /^logEndOffset\s+\d+$/m);
    assert.match(storageTable.stdout, /^BASE OFFSET\s+NEXT OFFSET/m);
    const none = await ctl([...login, "kafka", "topics", "list"]);
    assert.equal(none.stdout, "(none)\n");
    const groups = await ctl([...login, "kafka", "groups", "list"]);
    assert.equal(groups.status, 0, groups.stderr);
    assert.equal(groups.stdout, "(none)\n");
    const missing = await ctl([...login, "kafka", "topics", "show", "nothing"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /RMQ_ERR_ADMIN_NOT_FOUND/);
  });

  test("stats and config show", async () => {
    const stats = parsed(await ctl([...login, "--output", "json", "stats"]));
    assert.ok((stats.counters as Record<string, number>).connects >= 1);
    const statsTable = await ctl([...login, "stats"]);
    assert.match(statsTable.stdout, /^counters\.messagesIn\s+\d+$/m);
    const config = parsed(await ctl([...login, "--output", "json", "config", "show"]));
    assert.equal((config.admin as Item).password, "<redacted>");
    const configTable = await ctl([...login, "config", "show"]);
    assert.match(configTable.stdout, /^admin\.password\s+<redacted>$/m);
    assert.ok(!configTable.stdout.includes(PASSWORD));
  });

  test("--token and ROBUSTMQ_TOKEN work like a login", async () => {
    const response = await fetch(`${server}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: PASSWORD }),
    });
    const { token } = (await response.json()) as { token: string };
    parsed(await ctl(["--server", server, "--token", token, "--output", "json", "status"]));
    parsed(
      await ctl(["--server", server, "--output", "json", "status"], { ROBUSTMQ_TOKEN: token }),
    );
    // Global flags may also follow the command.
    parsed(await ctl(["status", "--server", server, "--token", token, "--output", "json"]));
  });

  test("clients kick ID: the client sees DISCONNECT 0x98", async () => {
    const id = uniqueName("ctl-kick");
    const victim = track.mqtt(await connectMqtt(broker.url, { clientId: id, protocolVersion: 5 }));
    const disconnected = new Promise<IDisconnectPacket>((resolve) =>
      victim.once("disconnect", resolve),
    );
    const run = await ctl([...login, "clients", "kick", id]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^kicked\s+true$/m);
    const packet = await withTimeout(disconnected, WAIT_TIMEOUT_MS, "DISCONNECT");
    assert.equal(packet.reasonCode, 0x98);
  });

  test("no credentials: exit 1 and how to log in", async () => {
    const run = await ctl(["--server", server, "status"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^error RMQ_ERR_CTL_REQUEST_FAILED: .*401/);
    assert.match(run.stderr, /log in with --username\/--password or pass --token/);
    const wrong = await ctl([
      "--server",
      server,
      "--username",
      "admin",
      "--password",
      "x",
      "status",
    ]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /401.*check --username\/--password/);
  });

  test("unknown client: exit 1 with the API's 404", async () => {
    const run = await ctl([...login, "clients", "show", "no-such-client"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /404 \(RMQ_ERR_ADMIN_NOT_FOUND: no client or session/);
  });

  test("server unreachable: exit 1 with RMQ_ERR_CTL_UNREACHABLE", async () => {
    const run = await ctl(["--server", "http://127.0.0.1:1", "--token", "t", "status"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^error RMQ_ERR_CTL_UNREACHABLE: cannot reach the admin API/);
  });

  test("usage errors exit 2", async () => {
    for (const args of [
      ["--output", "xml", "status"],
      ["clients", "list", "--limit", "0"],
      ["clients", "list", "--connected", "maybe"],
      ["clients", "frobnicate"],
      ["clients", "show"],
      ["--username", "admin", "status"],
      ["--server", "not-a-url", "status"],
      ["--server", "ftp://127.0.0.1:58080", "status"],
    ]) {
      const run = await ctl(["--server", server, ...args]);
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /RMQ_ERR_CLI_USAGE/, args.join(" "));
    }
  });
});
