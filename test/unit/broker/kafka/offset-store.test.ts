/** The committed-offset store on a real LMDB: commits, restart, and expiry of empty groups. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { OffsetStore } from "../../../../src/broker/kafka/groups/offset-store.ts";

const dir = mkdtempSync(join(tmpdir(), "rmq-offsets-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOUR_MS = 3_600_000;

function entry(topic: string, partition: number, offset: number, commitTimestampMs: number) {
  return {
    topic,
    partition,
    value: { offset: BigInt(offset), leaderEpoch: -1, metadata: null, commitTimestampMs },
  };
}

test("empty groups whose last commit is older than the retention lose their offsets", async () => {
  const path = join(dir, "expiry");
  const store = OffsetStore.open(path);
  const now = 100 * HOUR_MS;
  await store.commit("old-empty", [entry("t", 0, 5, now - 10 * HOUR_MS)]);
  // One recent commit keeps the whole group.
  await store.commit("mixed", [entry("t", 0, 1, now - 10 * HOUR_MS), entry("t", 1, 2, now)]);
  await store.commit("old-active", [entry("t", 0, 7, now - 10 * HOUR_MS)]);
  const expired = await store.expire(now, 5 * HOUR_MS, (group) => group !== "old-active");
  assert.deepEqual(expired, ["old-empty"]);
  assert.equal(store.get("old-empty", "t", 0), undefined);
  assert.equal(store.get("mixed", "t", 0)?.offset, 1n);
  assert.equal(store.get("old-active", "t", 0)?.offset, 7n, "a group with members keeps them");
  await store.close();

  const reopened = OffsetStore.open(path);
  assert.deepEqual(reopened.groupIds().sort(), ["mixed", "old-active"], "the removal is durable");
  assert.deepEqual(await reopened.expire(now, 5 * HOUR_MS, () => true), ["old-active"]);
  await reopened.close();
});

test("deleteGroup and deletePartitions remove offsets durably, and only those", async () => {
  const path = join(dir, "deletes");
  const store = OffsetStore.open(path);
  const now = Date.now();
  await store.commit("gone", [entry("t", 0, 1, now), entry("u", 0, 2, now)]);
  await store.commit("kept", [entry("t", 0, 3, now), entry("t", 1, 4, now), entry("u", 0, 5, now)]);
  assert.equal(await store.deleteGroup("gone"), true);
  assert.equal(await store.deleteGroup("gone"), false, "nothing left to delete");
  await store.deletePartitions("kept", [
    { topic: "t", partition: 1 },
    { topic: "u", partition: 0 },
    { topic: "u", partition: 7 },
    { topic: "never", partition: 0 },
  ]);
  assert.deepEqual([...store.topicsOf("kept").keys()], ["t"], "an emptied topic goes");
  await store.close();

  const reopened = OffsetStore.open(path);
  assert.deepEqual(reopened.groupIds(), ["kept"]);
  assert.equal(reopened.get("kept", "t", 0)?.offset, 3n);
  assert.equal(reopened.get("kept", "t", 1), undefined);
  assert.equal(reopened.get("kept", "u", 0), undefined);
  await reopened.deletePartitions("kept", [{ topic: "t", partition: 0 }]);
  assert.deepEqual(reopened.groupIds(), [], "a group without offsets is forgotten");
  await reopened.close();
});
