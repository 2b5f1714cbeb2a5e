/**
 * Disk full: the real broker process runs with its data directory on a small tmpfs (mounted in
 * a user and mount namespace of its own, so no privileges are needed). Publishing QoS 1 messages
 * for an offline persistent session fills it. A v5 publisher is then told 0x97 and keeps its
 * connection, a v3.1.1 publisher is disconnected, nothing acknowledged is lost, and once space
 * is freed the broker stores messages again without a restart.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startBroker } from "../helpers/broker-process.ts";
import { uniqueName } from "../helpers/mqtt-clients.ts";
import { connectRaw } from "../helpers/raw-client.ts";

const TMPFS_MIB = 12;
const BALLAST_MIB = 4;
const PAYLOAD_BYTES = 64 * 1024;
const PUBLISH_MAX = 400; // 25 MiB: more than the tmpfs holds

function payload(index: number): Buffer {
  const bytes = Buffer.alloc(PAYLOAD_BYTES, index % 251);
  bytes.writeUInt32BE(index, 0);
  return bytes;
}

test("disk full: 0x97 for v5, disconnect for v3.1.1, nothing acknowledged lost, recovery when space returns", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-full-"));
  const configDir = mkdtempSync(join(tmpdir(), "rmq-full-config-"));
  const configFile = join(configDir, "robustmq.toml");
  writeFileSync(configFile, "[mqtt_persistence]\ncheckpoint_interval_ms = 200\n");
  // Mounts the tmpfs over the data directory, fills part of it with a file the test deletes
  // later (through /proc/<pid>/root, which sees the broker's mounts), then runs the broker.
  const script =
    `mount -t tmpfs -o size=${TMPFS_MIB}m tmpfs "$0" && ` +
    `dd if=/dev/zero of="$0/ballast" bs=1M count=${BALLAST_MIB} status=none && exec "$@"`;
  const broker = await startBroker({
    dataDir,
    logLevel: "info",
    prefix: ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, dataDir],
    // Not in the data directory, which the tmpfs hides.
    args: ["--config", configFile],
  });
  let step = "subscribe";
  try {
    const topic = uniqueName("full");
    const subscriberId = uniqueName("sub");
    const persistent = { clientId: subscriberId, version: 5 as const, cleanStart: false };
    const expiry = { sessionExpiryInterval: 600 };
    const sub = await connectRaw(broker.port, { ...persistent, properties: expiry });
    await sub.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    await sub.client.disconnect();

    step = "fill the disk";
    const pub = await connectRaw(broker.port, { clientId: uniqueName("pub"), version: 5 });
    const accepted: number[] = [];
    let refusedAt = -1;
    for (let i = 0; i < PUBLISH_MAX && refusedAt < 0; i++) {
      pub.client.publish(topic, payload(i), { qos: 1 });
      const puback = await pub.client.expect("puback");
      if (puback.reasonCode === 0) accepted.push(i);
      else {
        assert.equal(puback.reasonCode, 0x97, "Quota exceeded");
        refusedAt = i;
      }
    }
    assert.ok(refusedAt > 0, "the tmpfs filled up");
    assert.deepEqual(await pub.client.drain(), [], "the v5 publisher keeps its connection");
    await broker.waitForLog((l) => l.msg === "message not stored: publish refused");

    step = "v3.1.1 publish on a full disk";
    const v3 = await connectRaw(broker.port, { clientId: uniqueName("pub3"), version: 4 });
    v3.client.publish(topic, payload(999), { qos: 1 });
    await v3.client.waitClosed();

    step = "publish once space is back";
    unlinkSync(`/proc/${broker.child.pid}/root${dataDir}/ballast`);
    pub.client.publish(topic, payload(1000), { qos: 1 });
    assert.equal((await pub.client.expect("puback")).reasonCode, 0, "stored again");
    accepted.push(1000);

    step = "resume the subscriber";
    const back = await connectRaw(broker.port, { ...persistent, properties: expiry });
    assert.equal(back.connack.sessionPresent, true);
    const received: number[] = [];
    for (const _ of accepted) {
      const publish = await back.client.expect("publish");
      assert.equal(publish.payload.length, PAYLOAD_BYTES);
      received.push(publish.payload.readUInt32BE(0));
      back.client.send({ type: "puback", packetId: publish.packetId as number, reasonCode: 0 });
    }
    assert.deepEqual(received, accepted, "every acknowledged message, in order, none refused");
    assert.deepEqual(await back.client.drain(), []);
    for (const c of [pub.client, back.client]) c.destroy();
  } catch (err) {
    // What the broker said is what explains a failure seen only on another machine.
    const said = broker.logs.filter((l) => ["warn", "error", "fatal", "raw"].includes(l.level));
    console.error(`failed at: ${step}; broker exit: ${broker.child.exitCode}`, said);
    throw err;
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(configDir, { recursive: true, force: true });
  }
});
