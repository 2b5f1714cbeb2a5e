/**
 * The dashboard (web/, built into web/dist/) in Debian's chromium, driven by playwright-core,
 * against the real broker process: login, live connection count, kicking a client, deleting a
 * retained message, an expired token, users, ACL rules and bans on the security page, delayed
 * messages, topic rules, alarms, slow subscriptions, the cluster page, and the API going away.
 * Run by test/browser/run.sh (npm run test:browser), which builds the dashboard first.
 *
 * Screenshots of each page go to a temporary folder, or to docs/screenshots/ with
 * UPDATE_SCREENSHOTS=1.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { IDisconnectPacket, MqttClient } from "mqtt";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { ClientTracker, connectMqtt, withTimeout } from "../helpers/mqtt-clients.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
/** Any one wait for the page or a client; the overview polls every second, lists every 3 s. */
const WAIT_MS = 10_000;
const POLL_MS = 100;
const VIEWPORT = { width: 1280, height: 800 };
const KICKED_ID = "dash-kick-me";
const SENSOR_ID = "dash-sensor-1";
const RETAINED_TOPIC = "dash/retained/greeting";
const ACL_TOPIC = "dash/acl/#";
const DASH_USER = "dash-user";
const DASH_USER_PASSWORD = "dash-Secret-1";
const BANNED_BLOCK = "10.99.0.0/16";
const GROUP_ID = "dash-readers";
const GROUP_TOPIC = "dash-group-events";
const TOPICS_PREFIX = "dash/topics";
const DELAYED_CLIENT = "dash-delayer";
const DELAYED_TOPIC = "dash/delayed/wake";

const screenshotsDir =
  process.env.UPDATE_SCREENSHOTS === "1"
    ? join(ROOT, "docs/screenshots")
    : mkdtempSync(join(tmpdir(), "rmq-screenshots-"));

/** Resolves once `read()` returns `expected`; fails with the last value seen. */
async function waitFor<T>(what: string, read: () => Promise<T>, expected: T): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  assert.fail(`${what}: expected ${String(expected)}, last saw ${String(last)}`);
}

const textOf = async (locator: Locator) => ((await locator.textContent()) ?? "").trim();
const cellsOf = async (row: Locator) =>
  (await row.locator(":scope > td").allTextContents()).map((t) => t.trim());

/**
 * Puts `records` records on partition 0 of `topic`, then commits `offset` for `groupId` as a
 * standalone consumer (no membership: generation -1), so the group lags by records - offset.
 */
async function commitBehind(
  kafka: WireClient,
  topic: string,
  groupId: string,
  records: number,
  offset: number,
): Promise<void> {
  const batch = Array.from({ length: records }, (_, i) => ({
    timestamp: Date.now(),
    key: null,
    value: Buffer.from(`event ${i}`),
  }));
  const produced = await kafka.request(ApiKey.Produce, 8, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch(batch) }] }],
  });
  assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0, "produce");
  const committed = await kafka.request(ApiKey.OffsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: BigInt(offset),
            committedLeaderEpoch: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  assert.equal(committed.topics[0].partitions[0].errorCode, 0, "offset commit");
}

describe("dashboard in chromium", () => {
  let broker: BrokerProcess;
  let base: string;
  let password: string;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const clients = new ClientTracker();
  let traffic: NodeJS.Timeout | undefined;
  let kicked: MqttClient;

  before(async () => {
    assert.ok(existsSync(join(ROOT, "web/dist/index.html")), "run npm run build first");
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: run test/browser/run.sh`);
    mkdirSync(screenshotsDir, { recursive: true });
    broker = await startBroker({
      config:
        '[network]\nbind_address = "127.0.0.1"\n' +
        // A config rule for the security page to show read-only (no_match allows anyway).
        '[mqtt_acl]\nrules = [ { permission = "allow", action = "all", topic = "dash/#" } ]\n' +
        '[kafka_acl]\nrules = [ { permission = "allow", action = "read", topic = "dash.*" } ]\n' +
        // A config rewrite rule for the rules page to show read-only (no test topic matches it).
        "[mqtt_topic_rewrite]\nrules = [ " +
        '{ action = "publish", source_topic = "dash/old/#", re = "^dash/old/(.+)$", ' +
        'dest_topic = "dash/new/$1" } ]\n' +
        // Slow subscriptions on (their page shows an empty table, not "off"); CPU alarms only
        // past a full core, so a busy test machine raises none.
        "[mqtt_slow_subs]\nenable = true\n" +
        "[mqtt_alarms]\ncpu_high_watermark = 1.0\ncpu_low_watermark = 0.9\n",
      logLevel: "info",
    });
    const admin = await broker.waitForLog((l) => l.listener === "admin");
    base = `http://127.0.0.1:${String(admin.address).split(":").pop()}`;
    const generated = await broker.waitForLog((l) => typeof l.password === "string");
    password = String(generated.password);
    userDataDir = mkdtempSync(join(tmpdir(), "rmq-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: VIEWPORT,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    // Loopback only: anything else the page might ask for is refused.
    await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
  });

  after(async () => {
    clearInterval(traffic);
    await clients.closeAll();
    await context?.close();
    await broker?.stop();
    if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
    if (process.env.UPDATE_SCREENSHOTS !== "1") {
      rmSync(screenshotsDir, { recursive: true, force: true });
    }
  });

  const shot = (name: string) =>
    page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage: false });
  const goTo = async (title: string, path: string) => {
    await page.getByRole("link", { name: title, exact: true }).click();
    await page.waitForURL(`${base}${path}`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
  };
  const search = async (name: string, value: string) => {
    const input = page.locator(`input[name="${name}"]`);
    await input.fill(value);
    await input.press("Enter");
  };

  test("the login page refuses a wrong password, then logs in", async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(`${base}/login`);
    await page.locator('input[name="password"]').waitFor();
    await shot("login");
    await page.fill('input[name="password"]', "wrong-password");
    await page.click('button[type="submit"]');
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.equal(await textOf(alert), "Wrong user name or password.");
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/`);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
  });

  test("the overview's connection count follows mqtt.js clients", async () => {
    const connections = page.locator('[data-stat="connections"] .stat-value');
    await waitFor("connections before", () => textOf(connections), "0");
    kicked = clients.mqtt(
      await connectMqtt(broker.url, { clientId: KICKED_ID, protocolVersion: 5 }),
    );
    const sensor = clients.mqtt(
      await connectMqtt(broker.url, { clientId: SENSOR_ID, protocolVersion: 5 }),
    );
    await sensor.subscribeAsync("dash/load/#", { qos: 1 });
    await waitFor("connections after two connect", () => textOf(connections), "2");
    // Some traffic for the charts: 20 messages a second, each also sent to the subscriber.
    let n = 0;
    traffic = setInterval(() => {
      sensor.publish(`dash/load/${n % 4}`, `reading ${n++}`, { qos: 0 });
    }, 50);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await shot("overview");
    const messages = await textOf(page.locator(".chart").first());
    assert.match(messages, /Messages/);
    assert.equal(await textOf(page.locator(".node .badge")), "healthy");
  });

  test("the clients page finds a client by id and kicks it", async () => {
    await goTo("Clients", "/clients");
    await page.locator(`tr[data-row="${SENSOR_ID}"]`).waitFor();
    await page.locator(`tr[data-row="${KICKED_ID}"]`).waitFor();
    await shot("clients");
    await search("clientId", KICKED_ID);
    await waitFor("rows after search", () => page.locator("tbody tr").count(), 1);
    const disconnect = new Promise<IDisconnectPacket>((resolve) => {
      kicked.once("disconnect", resolve);
    });
    page.once("dialog", (dialog) => dialog.accept());
    await page.locator(`tr[data-row="${KICKED_ID}"] button.danger`).click();
    const packet = await withTimeout(disconnect, WAIT_MS, "DISCONNECT from the kick");
    assert.equal(packet.reasonCode, 0x98, "Administrative action");
    await page.getByText(`Client "${KICKED_ID}" was disconnected.`).waitFor();
    const stillConnected = page.locator(`tr[data-row="${KICKED_ID}"] .badge.healthy`);
    await waitFor("kicked client shown connected", () => stillConnected.count(), 0);
    await search("clientId", "");
    await page.locator(`tr[data-row="${SENSOR_ID}"]`).waitFor();
  });

  test("sessions and subscriptions list the connected client", async () => {
    await goTo("Sessions", "/sessions");
    await page.locator(`tr[data-row="${SENSOR_ID}"]`).waitFor();
    await shot("sessions");
    await goTo("Subscriptions", "/subscriptions");
    await search("clientId", SENSOR_ID);
    await page.getByText("dash/load/#").waitFor();
    await shot("subscriptions");
  });

  test("the retained page lists a retained message and deletes it", async () => {
    const sensor = await connectMqtt(broker.url, { clientId: "dash-retainer" });
    clients.mqtt(sensor);
    await sensor.publishAsync(RETAINED_TOPIC, "hello from mqtt.js", { qos: 1, retain: true });
    await sensor.publishAsync("dash/retained/binary", Buffer.from([0, 1, 2, 255]), {
      qos: 0,
      retain: true,
    });
    await goTo("Retained", "/retained");
    await search("filter", "dash/#");
    const row = page.locator(`tr[data-row="${RETAINED_TOPIC}"]`);
    await row.waitFor();
    assert.match(await textOf(row), /hello from mqtt\.js/);
    await shot("retained");
    page.once("dialog", (dialog) => dialog.accept());
    await row.locator("button.danger").click();
    await page.getByText(`Deleted the retained message of "${RETAINED_TOPIC}".`).waitFor();
    await waitFor("deleted row", () => row.count(), 0);
    // The broker agrees: a new subscriber gets only the other retained message.
    const checker = clients.mqtt(await connectMqtt(broker.url, { clientId: "dash-checker" }));
    const topics: string[] = [];
    checker.on("message", (topic) => topics.push(topic));
    await checker.subscribeAsync("dash/retained/#", { qos: 1 });
    await waitFor("retained topics", async () => topics.join(","), "dash/retained/binary");
  });

  test("the storage page shows the MQTT message log and the Kafka topics", async () => {
    // A persistent session with a queued QoS 1 message puts a message in the log.
    const offline = await connectMqtt(broker.url, {
      clientId: "dash-durable",
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
    });
    await offline.subscribeAsync("dash/durable", { qos: 1 });
    await offline.endAsync();
    const sender = clients.mqtt(await connectMqtt(broker.url, { clientId: "dash-durable-pub" }));
    await sender.publishAsync("dash/durable", "kept on disk", { qos: 1 });
    const kafka = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(kafka, "dash-events", 3);
    } finally {
      kafka.close();
    }
    await goTo("Storage", "/storage");
    const sessions = page.locator('[data-section="mqtt-log"] [data-field="persistent-sessions"]');
    await waitFor("persistent sessions", async () => Number(await textOf(sessions)) >= 1, true);
    const offsets = await textOf(page.locator('[data-section="mqtt-log"] [data-field="offsets"]'));
    assert.match(offsets, /^\d[\d,]* – \d[\d,]*$/);
    const topic = page.locator('[data-section="kafka-topics"] tr[data-row="dash-events"]');
    await topic.waitFor();
    assert.match(await textOf(topic), /dash-events\s*3/);
    await shot("storage");
  });

  test("the storage page lists Kafka consumer groups with their lag", async () => {
    const groups = page.locator('[data-section="kafka-groups"]');
    await groups.getByText("no consumer groups yet").waitFor();
    const kafka = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(kafka, GROUP_TOPIC, 2);
      await commitBehind(kafka, GROUP_TOPIC, GROUP_ID, 5, 2);
    } finally {
      kafka.close();
    }
    const row = groups.locator(`tr[data-row="${GROUP_ID}"]`);
    await row.waitFor();
    // Group, state, members, generation, total lag, partitions with a committed offset.
    assert.deepEqual((await cellsOf(row)).slice(0, 6), [GROUP_ID, "Empty", "0", "0", "3", "1"]);
    await row.getByRole("button", { name: "Offsets" }).click();
    const partition = groups.locator(
      `tr[data-detail="${GROUP_ID}"] tr[data-row="${GROUP_TOPIC}/0"]`,
    );
    await partition.waitFor();
    // Topic, partition, committed offset, end offset, lag.
    assert.deepEqual(await cellsOf(partition), [GROUP_TOPIC, "0", "2", "5", "3"]);
    // Still open after the next reload (every 3 s), and the same as the API says.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.equal(await partition.count(), 1);
    await groups.scrollIntoViewIfNeeded();
    await shot("kafka-groups");
    await row.getByRole("button", { name: "Hide offsets" }).click();
    await waitFor("closed offsets", () => partition.count(), 0);
  });

  test("a rejected token goes back to the login page", async () => {
    await page.evaluate(() => sessionStorage.setItem("robustmq.token", "not-a-token"));
    await page.reload();
    await page.waitForURL(`${base}/login`);
    await page.getByText("your session expired: log in again").waitFor();
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/storage`);
  });

  /** GET `path` of the admin API with a fresh token (what the broker holds, not the page). */
  const apiBody = async (path: string): Promise<Record<string, unknown>> => {
    const login = await fetch(`${base}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password }),
    });
    const { token } = (await login.json()) as { token: string };
    const response = await fetch(`${base}/api/v1${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await response.json()) as Record<string, unknown>;
  };
  /** The `data` of a list route. */
  const apiGet = async (path: string): Promise<Array<Record<string, unknown>>> =>
    (await apiBody(path)).data as Array<Record<string, unknown>>;

  test("the security page adds an ACL rule through its form, lists it, deletes it", async () => {
    await goTo("Security", "/security");
    const acl = page.locator('[data-section="acl"]');
    const configRow = acl.locator('tr[data-row="config-1"]');
    await configRow.waitFor();
    assert.match(await textOf(configRow), /read-only/);
    assert.equal(await configRow.getByRole("button").count(), 0, "config rules are read-only");
    await page.selectOption('select[name="acl-permission"]', "deny");
    await page.selectOption('select[name="acl-action"]', "subscribe");
    await page.fill('input[name="acl-topic"]', ACL_TOPIC);
    await page.fill('input[name="acl-username"]', DASH_USER);
    await acl.getByRole("button", { name: "Add rule" }).click();
    const notice = acl.getByRole("status");
    await notice.waitFor();
    const id = /Added rule (api-[0-9a-f]+)/.exec(await textOf(notice))?.[1];
    assert.ok(id !== undefined, await textOf(notice));
    const row = acl.locator(`tr[data-row="${id}"]`);
    await row.waitFor();
    assert.match(await textOf(row), /^2.*deny.*subscribe.*dash\/acl\/#.*dash-user/);
    const stored = await apiGet("/acl");
    assert.deepEqual(
      stored.map((r) => [r.id, r.permission, r.action, r.topic, r.username]),
      [
        ["config-1", "allow", "all", "dash/#", null],
        [id, "deny", "subscribe", ACL_TOPIC, DASH_USER],
      ],
    );
    await shot("security");
    page.once("dialog", (dialog) => dialog.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await acl.getByText(`Deleted ACL rule ${id}.`).waitFor();
    await waitFor("deleted rule row", () => row.count(), 0);
    assert.deepEqual(
      (await apiGet("/acl")).map((r) => r.id),
      ["config-1"],
    );
  });

  test("the security page adds a Kafka ACL rule through its form, lists it, deletes it", async () => {
    await goTo("Security", "/security");
    const card = page.locator('[data-section="kafka-acl"]');
    const configRow = card.locator('tr[data-row="config-1"]');
    await configRow.waitFor();
    assert.match(await textOf(configRow), /allow.*read.*dash\.\*.*read-only/);
    await page.selectOption('select[name="kafka-acl-permission"]', "deny");
    await page.selectOption('select[name="kafka-acl-action"]', "write");
    await page.fill('input[name="kafka-acl-name"]', "dash.orders");
    await page.fill('input[name="kafka-acl-username"]', DASH_USER);
    await card.getByRole("button", { name: "Add rule" }).click();
    const notice = card.getByRole("status");
    await notice.waitFor();
    const id = /Added rule (api-[0-9a-f]+)/.exec(await textOf(notice))?.[1];
    assert.ok(id !== undefined, await textOf(notice));
    const row = card.locator(`tr[data-row="${id}"]`);
    await row.waitFor();
    assert.match(await textOf(row), /^2.*deny.*write.*dash\.orders.*dash-user/);
    assert.deepEqual(
      (await apiGet("/kafka/acl")).map((r) => [r.id, r.permission, r.action, r.topic, r.username]),
      [
        ["config-1", "allow", "read", "dash.*", null],
        [id, "deny", "write", "dash.orders", DASH_USER],
      ],
    );
    page.once("dialog", (dialog) => dialog.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await card.getByText(`Deleted Kafka ACL rule ${id}.`).waitFor();
    await waitFor("deleted Kafka rule row", () => row.count(), 0);
    assert.deepEqual(
      (await apiGet("/kafka/acl")).map((r) => r.id),
      ["config-1"],
    );
  });

  test("the security page adds and deletes a user, and a ban", async () => {
    const users = page.locator('[data-section="users"]');
    await page.fill('input[name="user-username"]', DASH_USER);
    await page.fill('input[name="user-password"]', DASH_USER_PASSWORD);
    await page.check('input[name="user-superuser"]');
    await users.getByRole("button", { name: "Add user" }).click();
    const userRow = users.locator(`tr[data-row="${DASH_USER}"]`);
    await userRow.waitFor();
    assert.match(await textOf(userRow), /superuser/);
    assert.equal(await page.inputValue('input[name="user-password"]'), "", "form cleared");
    assert.ok(!(await page.content()).includes(DASH_USER_PASSWORD), "no password on the page");
    assert.deepEqual(
      (await apiGet("/users")).map((u) => [u.username, u.superuser]),
      [[DASH_USER, true]],
    );
    page.once("dialog", (dialog) => dialog.accept());
    await userRow.getByRole("button", { name: "Delete" }).click();
    await waitFor("deleted user row", () => userRow.count(), 0);
    assert.deepEqual(await apiGet("/users"), []);

    const bans = page.locator('[data-section="bans"]');
    await page.selectOption('select[name="ban-kind"]', "ip");
    await page.fill('input[name="ban-value"]', BANNED_BLOCK);
    await page.fill('input[name="ban-reason"]', "dashboard test");
    await bans.getByRole("button", { name: "Ban" }).click();
    const banRow = bans.locator(`tr[data-row="ip:${BANNED_BLOCK}"]`);
    await banRow.waitFor();
    assert.match(await textOf(banRow), /10\.99\.0\.0\/16.*dashboard test.*never/);
    page.once("dialog", (dialog) => dialog.accept());
    await banRow.getByRole("button", { name: "Lift" }).click();
    await waitFor("lifted ban row", () => banRow.count(), 0);
    assert.deepEqual(await apiGet("/banned"), []);
  });

  test("the topics page counts subscribers per filter and finds who a topic reaches", async () => {
    const exact = `${TOPICS_PREFIX}/1/temp`;
    const wildcard = `${TOPICS_PREFIX}/+/temp`;
    const first = clients.mqtt(await connectMqtt(broker.url, { clientId: "dash-topics-a" }));
    const second = clients.mqtt(await connectMqtt(broker.url, { clientId: "dash-topics-b" }));
    await first.subscribeAsync([wildcard, `$share/ops/${exact}`], { qos: 0 });
    await second.subscribeAsync([exact, `$share/ops/${exact}`], { qos: 0 });
    await first.publishAsync(exact, "20.5", { qos: 1, retain: true });
    await goTo("Topics", "/topics");
    await search("filter", TOPICS_PREFIX);
    const exactRow = page.locator(`tr[data-row="${exact}"]`);
    await exactRow.waitFor();
    await waitFor("rows for the prefix", () => page.locator("tbody tr").count(), 2);
    // Filter, subscribers (the share group counts its 2 members), direct, groups, retained.
    assert.deepEqual(await cellsOf(exactRow), [exact, "3", "1", "ops (2)", "yes"]);
    const wildcardRow = page.locator(`tr[data-row="${wildcard}"]`);
    assert.deepEqual(await cellsOf(wildcardRow), [wildcard, "1", "1", "—", "— (wildcard)"]);
    assert.deepEqual(
      (await apiGet(`/topics?filter=${encodeURIComponent(TOPICS_PREFIX)}`)).map((t) => [
        t.filter,
        t.subscribers,
      ]),
      [
        [wildcard, 1],
        [exact, 3],
      ],
    );
    await shot("topics");
    await search("filter", "");
    await search("match", `${TOPICS_PREFIX}/2/temp`);
    await waitFor("filters reaching .../2/temp", () => page.locator("tbody tr").count(), 1);
    await wildcardRow.waitFor();
    await search("match", "nobody/listens/here");
    await page.getByText("no subscription reaches topic nobody/listens/here").waitFor();
  });

  test("the delayed page lists a $delayed message and cancels it", async () => {
    const publisher = clients.mqtt(await connectMqtt(broker.url, { clientId: DELAYED_CLIENT }));
    await publisher.publishAsync(`$delayed/60/${DELAYED_TOPIC}`, "wake up", { qos: 1 });
    await goTo("Delayed", "/delayed");
    const stored = await apiGet(`/delayed?topic=${encodeURIComponent(DELAYED_TOPIC)}`);
    assert.equal(stored.length, 1);
    const id = String(stored[0].id);
    const row = page.locator(`tr[data-row="${id}"]`);
    await row.waitFor();
    // Id, topic, publisher, QoS, retain, size.
    assert.deepEqual((await cellsOf(row)).slice(0, 6), [
      id,
      DELAYED_TOPIC,
      DELAYED_CLIENT,
      "1",
      "no",
      "7 B",
    ]);
    assert.match(await textOf(row), /in (59|1m 0|60)s/);
    await shot("delayed");
    page.once("dialog", (dialog) => dialog.accept());
    await row.getByRole("button", { name: "Cancel" }).click();
    await page.getByText(`Cancelled delayed message ${id}`).waitFor();
    await waitFor("cancelled row", () => row.count(), 0);
    assert.deepEqual(await apiGet("/delayed"), []);
    await page.getByText("no delayed messages waiting").waitFor();
  });

  test("the rules page adds and deletes a rewrite rule, and shows the API's refusal", async () => {
    await goTo("Topic rules", "/rules");
    const rewrite = page.locator('[data-section="topic-rewrite"]');
    const configRow = rewrite.locator('tr[data-row="config-1"]');
    await configRow.waitFor();
    assert.match(await textOf(configRow), /read-only/);
    // A destination naming a group the expression lacks: the API's 400 is shown.
    await page.selectOption('select[name="rewrite-action"]', "publish");
    await page.fill('input[name="rewrite-source-topic"]', "dash/alias/#");
    await page.fill('input[name="rewrite-re"]', "^dash/alias/(.+)$");
    await page.fill('input[name="rewrite-dest-topic"]', "dash/real/$2");
    await rewrite.getByRole("button", { name: "Add rule" }).click();
    const refusal = rewrite.getByRole("alert");
    await refusal.waitFor();
    assert.match(await textOf(refusal), /^Error 400: .*dest_topic.*\$2/);
    await page.fill('input[name="rewrite-dest-topic"]', "dash/real/$1");
    await rewrite.getByRole("button", { name: "Add rule" }).click();
    const notice = rewrite.getByRole("status");
    await notice.waitFor();
    const id = /Added rule (api-[0-9a-f]+)/.exec(await textOf(notice))?.[1];
    assert.ok(id !== undefined, await textOf(notice));
    assert.equal(await rewrite.getByRole("alert").count(), 0, "the refusal is gone");
    const row = rewrite.locator(`tr[data-row="${id}"]`);
    await row.waitFor();
    assert.deepEqual((await cellsOf(row)).slice(0, 7), [
      "2",
      id,
      "api",
      "publish",
      "dash/alias/#",
      "^dash/alias/(.+)$",
      "dash/real/$1",
    ]);
    assert.deepEqual(
      (await apiGet("/topic-rewrite")).map((r) => [r.id, r.dest_topic]),
      [
        ["config-1", "dash/new/$1"],
        [id, "dash/real/$1"],
      ],
    );
    await page.locator('[data-section="schema-validation"]').getByText("no schema").waitFor();
    await page.locator('[data-section="auto-subscribe"]').getByText("no auto-subscribe").waitFor();
    await shot("rules");
    page.once("dialog", (dialog) => dialog.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await rewrite.getByText(`Deleted topic rewrite rule ${id}.`).waitFor();
    await waitFor("deleted rewrite row", () => row.count(), 0);
    assert.deepEqual(
      (await apiGet("/topic-rewrite")).map((r) => r.id),
      ["config-1"],
    );
  });

  test("the alarms page shows no alarm, the watermarks, and refuses a bad one", async () => {
    await goTo("Alarms", "/alarms");
    await page.locator('[data-section="active-alarms"]').getByText("no active alarms").waitFor();
    const cpuHigh = page.locator('[data-watermark="cpu_high_watermark"]');
    await waitFor("cpu high watermark", () => textOf(cpuHigh), "1 (100%)");
    await page.fill('input[name="memory_low_watermark"]', "0.95");
    const watermarks = page.locator('[data-section="watermarks"]');
    await watermarks.getByRole("button", { name: "Change" }).click();
    const refusal = watermarks.getByRole("alert");
    await refusal.waitFor();
    assert.match(await textOf(refusal), /^Error 400: .*memory_low_watermark/);
    await page.fill('input[name="memory_low_watermark"]', "0.75");
    await watermarks.getByRole("button", { name: "Change" }).click();
    await watermarks.getByText("Watermarks changed: memory_low_watermark = 0.75.").waitFor();
    const memoryLow = page.locator('[data-watermark="memory_low_watermark"]');
    assert.equal(await textOf(memoryLow), "0.75 (75%)");
    const stored = (await apiBody("/alarms")).watermarks as Record<string, number>;
    assert.equal(stored.memory_low_watermark, 0.75);
    await page
      .locator('[data-section="alarm-history"]')
      .getByText("no alarm has cleared")
      .waitFor();
    assert.equal(await page.locator(".banner.error").count(), 0);
    await shot("alarms");
  });

  test("the slow subscriptions page renders its empty state", async () => {
    await goTo("Slow subscriptions", "/slow-subscriptions");
    await page.getByText("no slow subscriptions: no delivery took 500 ms or more").waitFor();
    assert.match(await textOf(page.locator('[data-field="settings"]')), /500 ms.*10 slowest/);
    assert.equal(await page.getByRole("button", { name: "Clear all" }).isDisabled(), true);
    assert.equal(await page.locator(".banner.error").count(), 0);
    await shot("slow-subscriptions");
  });

  test("the cluster page lists this node with its roles", async () => {
    await goTo("Cluster", "/cluster");
    const rows = page.locator('[data-section="nodes"] tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    const cells = await cellsOf(rows.first());
    assert.equal(cells[0], "1 this node");
    assert.deepEqual(await rows.first().locator("[data-role]").allTextContents(), [
      "meta",
      "broker",
      "engine",
    ]);
    assert.match(cells[5], /mqtt 127\.0\.0\.1:\d+.*admin 127\.0\.0\.1:\d+/);
    assert.equal(cells[6], "healthy");
    assert.match(
      await textOf(page.locator('[data-section="nodes"]')),
      /no list of cluster members/,
    );
    assert.match(await textOf(page.locator('[data-role-state="engine"]')), /runs here/);
    await shot("cluster");
  });

  test("an unreachable API is shown as such", async () => {
    clearInterval(traffic);
    await clients.closeAll();
    await broker.stop();
    await goTo("Clients", "/clients");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await textOf(alert), /^API unreachable: /);
  });
});
