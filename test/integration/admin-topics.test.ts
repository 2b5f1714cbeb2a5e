/**
 * GET /api/v1/topics and `robustmq ctl topics list` against the real broker process, with
 * mqtt.js clients subscribing: subscriber counts (share groups by members, offline persistent
 * sessions included), the retained flag of exact filters, the `match` and `filter` queries,
 * paging, counts following unsubscribe and disconnect, and refused queries.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN_CONFIG, ADMIN_PASSWORD, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";
import { ClientTracker, connectMqtt } from "../helpers/mqtt-clients.ts";

interface TopicItem {
  filter: string;
  wildcard: boolean;
  subscribers: number;
  directSubscribers: number;
  shareGroups: Array<{ group: string; members: number }>;
  retained: boolean | null;
}

interface TopicPage {
  data: TopicItem[];
  meta: { total: number; offset: number; limit: number; nextOffset: number | null };
}

/** `robustmq ctl ...` as a child process: exit status and standard output. */
function ctl(args: string[]): Promise<CtlRun> {
  return runCtl(args, { env: { ROBUSTMQ_PASSWORD: ADMIN_PASSWORD } });
}

describe("GET /api/v1/topics", () => {
  let broker: BrokerProcess;
  let admin: AdminApi;
  const clients = new ClientTracker();

  const topics = async (query: string): Promise<TopicPage> => {
    const reply = await admin.call("GET", `/api/v1/topics${query}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body as unknown as TopicPage;
  };
  const byFilter = (page: TopicPage) => new Map(page.data.map((item) => [item.filter, item]));

  before(async () => {
    broker = await startBroker({ config: ADMIN_CONFIG, logLevel: "info" });
    admin = await adminApi(broker);
    const connect = async (clientId: string, extra: Record<string, unknown> = {}) =>
      clients.mqtt(await connectMqtt(broker.url, { clientId, protocolVersion: 5, ...extra }));
    const a = await connect("tp-a");
    const b = await connect("tp-b");
    const c = await connect("tp-c");
    await a.subscribeAsync(["it/sensors/1/temp", "it/sensors/+/temp"], { qos: 1 });
    await b.subscribeAsync("it/sensors/1/temp", { qos: 0 });
    await b.subscribeAsync("$share/workers/it/sensors/1/temp", { qos: 1 });
    await c.subscribeAsync("$share/workers/it/sensors/1/temp", { qos: 1 });
    await c.subscribeAsync("$share/audit/it/sensors/1/temp", { qos: 0 });
    // An offline persistent session keeps its subscription in the router.
    const away = await connectMqtt(broker.url, {
      clientId: "tp-away",
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    });
    await away.subscribeAsync("it/offline/#", { qos: 1 });
    await away.endAsync();
    await a.publishAsync("it/sensors/1/temp", "21.5", { qos: 1, retain: true });
  });

  after(async () => {
    await clients.closeAll();
    await broker?.stop();
  });

  test("lists each filter with its subscribers, share groups by members, and retained", async () => {
    const page = await topics("?filter=it/");
    assert.deepEqual(
      page.data.map((item) => item.filter),
      ["it/offline/#", "it/sensors/+/temp", "it/sensors/1/temp"],
    );
    assert.deepEqual(page.meta, { total: 3, offset: 0, limit: 100, nextOffset: null });
    const items = byFilter(page);
    assert.deepEqual(items.get("it/sensors/1/temp"), {
      filter: "it/sensors/1/temp",
      wildcard: false,
      subscribers: 5,
      directSubscribers: 2,
      shareGroups: [
        { group: "audit", members: 1 },
        { group: "workers", members: 2 },
      ],
      retained: true,
    });
    assert.deepEqual(items.get("it/sensors/+/temp"), {
      filter: "it/sensors/+/temp",
      wildcard: true,
      subscribers: 1,
      directSubscribers: 1,
      shareGroups: [],
      retained: null,
    });
    assert.equal(items.get("it/offline/#")?.subscribers, 1, "offline session counted");
  });

  test("match lists the filters a publish on a topic name reaches", async () => {
    const reached = await topics(`?match=${encodeURIComponent("it/sensors/1/temp")}`);
    assert.deepEqual(
      reached.data.map((item) => item.filter),
      ["it/sensors/+/temp", "it/sensors/1/temp"],
    );
    const other = await topics(`?match=${encodeURIComponent("it/sensors/2/temp")}`);
    assert.deepEqual(
      other.data.map((item) => [item.filter, item.retained]),
      [["it/sensors/+/temp", null]],
    );
    const offline = await topics(`?match=${encodeURIComponent("it/offline/a/b")}&filter=off`);
    assert.deepEqual(
      offline.data.map((item) => item.filter),
      ["it/offline/#"],
    );
    assert.equal((await topics("?match=nobody/listens")).meta.total, 0);
  });

  test("pages follow one another", async () => {
    const first = await topics("?filter=it/&limit=2");
    assert.deepEqual(first.meta, { total: 3, offset: 0, limit: 2, nextOffset: 2 });
    const second = await topics("?filter=it/&limit=2&offset=2");
    assert.deepEqual(
      second.data.map((item) => item.filter),
      ["it/sensors/1/temp"],
    );
    assert.equal(second.meta.nextOffset, null);
  });

  test("refuses a wildcard match, an unknown parameter and a missing token", async () => {
    const wildcard = await admin.call("GET", `/api/v1/topics?match=${encodeURIComponent("a/+")}`);
    assert.equal(wildcard.status, 400);
    assert.equal(wildcard.body.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
    assert.match(String(wildcard.body.message), /match/);
    const unknown = await admin.call("GET", "/api/v1/topics?topic=a");
    assert.equal(unknown.status, 400);
    const anonymous = await fetch(`${admin.base}/api/v1/topics`);
    assert.equal(anonymous.status, 401);
  });

  test("robustmq ctl topics list prints the table and the JSON", async () => {
    const login = ["--server", admin.base, "--username", "admin"];
    const table = await ctl([...login, "topics", "list", "--match", "it/sensors/1/temp"]);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^FILTER\s+SUBSCRIBERS\s+DIRECT\s+SHARE GROUPS\s+RETAINED$/);
    assert.match(lines[1], /^it\/sensors\/\+\/temp\s+1\s+1\s+-\s+-$/);
    assert.match(lines[2], /^it\/sensors\/1\/temp\s+5\s+2\s+audit:1,workers:2\s+yes$/);
    assert.equal(lines[3], "2 of 2");
    const json = await ctl([...login, "--output", "json", "topics", "list", "--filter", "off"]);
    assert.equal(json.status, 0, json.stderr);
    const body = JSON.parse(json.stdout) as TopicPage;
    assert.deepEqual(
      body.data.map((item) => item.filter),
      ["it/offline/#"],
    );
    const bad = await ctl([...login, "topics", "list", "--match", "a/#"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /RMQ_ERR_ADMIN_INVALID_REQUEST/);
  });

  test("counts follow unsubscribe and disconnect", async () => {
    const before = byFilter(await topics("?filter=it/sensors/1/temp"));
    assert.equal(before.get("it/sensors/1/temp")?.subscribers, 5);
    const d = clients.mqtt(await connectMqtt(broker.url, { clientId: "tp-d", clean: true }));
    await d.subscribeAsync("it/sensors/1/temp", { qos: 0 });
    assert.equal(
      byFilter(await topics("?filter=it/sensors/1/temp")).get("it/sensors/1/temp")?.subscribers,
      6,
    );
    await d.unsubscribeAsync("it/sensors/1/temp");
    await d.subscribeAsync("it/only-d", { qos: 0 });
    const mid = byFilter(await topics("?filter=it/"));
    assert.equal(mid.get("it/sensors/1/temp")?.subscribers, 5);
    assert.equal(mid.get("it/only-d")?.retained, false);
    await d.endAsync();
    // A clean session ends with its connection, and its filter leaves the router with it.
    const deadline = Date.now() + 5000;
    while (byFilter(await topics("?filter=it/")).has("it/only-d")) {
      assert.ok(Date.now() < deadline, "it/only-d still listed after disconnect");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
