/**
 * The durable image replays the MQTT message log: which persistent sessions a message is queued
 * for, and how subscriptions, QoS 2 packet ids and sessions change. Pure: no files, no clock.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DurableImage, type SessionImage } from "../../../../src/broker/mqtt/persistence/image.ts";
import {
  changeBatch,
  decodeEntry,
  type LogEntry,
  type MessageMeta,
  messageBatch,
  type StateChange,
  type StoredSubscription,
} from "../../../../src/broker/mqtt/persistence/records.ts";
import { DeliveryState } from "../../../../src/broker/mqtt/session.ts";
import { readRecords } from "../../../../src/storage/log/index.ts";

function sub(f: string, q: 0 | 1 | 2, extra: Partial<StoredSubscription> = {}): StoredSubscription {
  return { f, q, nl: false, rap: false, rh: 0, id: 0, ...extra };
}

function message(offset: number, topic: string, meta: Partial<MessageMeta> = {}): LogEntry {
  const full: MessageMeta = { q: 1, r: false, x: 0, o: "publisher", ...meta };
  return { kind: "message", offset, timestamp: 0, topic, payload: Buffer.from("x"), meta: full };
}

function change(offset: number, c: StateChange): LogEntry {
  return { kind: "change", offset, change: c };
}

function offsetsOf(image: DurableImage, clientId: string): number[] {
  return (image.sessions.get(clientId)?.deliveries ?? []).map((d) => d.o);
}

describe("records", () => {
  test("a message and a state change survive the record batch round trip", () => {
    const meta: MessageMeta = {
      q: 2,
      r: true,
      n: true,
      x: 1234,
      o: "pub",
      i: 7,
      s: [["c", "$share/g/t"]],
      p: {
        contentType: "text/plain",
        correlationData: Buffer.from([1, 2]),
        userProperties: [["k", "v"]],
      },
    };
    const batch = messageBatch("a/b", Buffer.from("payload"), meta, 99);
    const records = readRecords(batch, 0);
    assert.equal(records.kind, "ok");
    const entry = decodeEntry(records.kind === "ok" ? records.records[0] : assert.fail());
    assert.equal(entry?.kind, "message");
    if (entry?.kind !== "message") return;
    assert.equal(entry.topic, "a/b");
    assert.equal(entry.payload.toString(), "payload");
    assert.equal(entry.timestamp, 99);
    assert.deepEqual(
      {
        ...entry.meta,
        p: { ...entry.meta.p, correlationData: Buffer.from(entry.meta.p?.correlationData ?? []) },
      },
      meta,
    );

    const c: StateChange = { t: "subscribe", c: "client", s: [sub("a/#", 2, { id: 5, nl: true })] };
    const changed = readRecords(changeBatch(c, 1), 0);
    assert.deepEqual(decodeEntry(changed.kind === "ok" ? changed.records[0] : assert.fail()), {
      kind: "change",
      offset: 0,
      change: c,
    });
  });
});

describe("replay", () => {
  test("a message is queued once per matching persistent session, at the granted QoS", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "a", e: 60 }));
    image.apply(change(1, { t: "session", c: "b", e: 60 }));
    image.apply(
      change(2, { t: "subscribe", c: "a", s: [sub("t/#", 2), sub("t/+", 1, { id: 3 })] }),
    );
    image.apply(change(3, { t: "subscribe", c: "b", s: [sub("t/x", 0)] }));
    image.apply(message(4, "t/x", { q: 2 }));
    image.apply(message(5, "other"));
    const a = image.sessions.get("a")?.deliveries;
    assert.deepEqual(a, [{ o: 4, q: 2, r: false, ids: [3], p: 0, s: DeliveryState.QUEUED }]);
    assert.deepEqual(offsetsOf(image, "b"), [], "QoS 0 is not kept for an offline session");
  });

  test("No Local, Retain As Published and a subscription made after the message", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "me", e: 60 }));
    image.apply(change(1, { t: "subscribe", c: "me", s: [sub("t", 1, { nl: true })] }));
    image.apply(message(2, "t", { o: "me" }));
    assert.deepEqual(offsetsOf(image, "me"), []);
    image.apply(change(3, { t: "subscribe", c: "me", s: [sub("t", 1, { rap: true })] }));
    image.apply(message(4, "t", { o: "me", r: true }));
    assert.equal(image.sessions.get("me")?.deliveries[0]?.r, true);
  });

  test("shared subscriptions take only the messages recorded for the member", () => {
    const image = new DurableImage();
    for (const c of ["m1", "m2"]) {
      image.apply(change(0, { t: "session", c, e: 60 }));
      image.apply(change(1, { t: "subscribe", c, s: [sub("$share/g/t", 1)] }));
    }
    image.apply(message(2, "t", { s: [["m2", "$share/g/t"]] }));
    image.apply(message(3, "t", { s: [["m1", "$share/g/t"]] }));
    assert.deepEqual(offsetsOf(image, "m1"), [3]);
    assert.deepEqual(offsetsOf(image, "m2"), [2]);
  });

  test("unsubscribe and drop stop routing; a dropped session is gone", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "a", e: 60 }));
    image.apply(change(1, { t: "subscribe", c: "a", s: [sub("t", 1), sub("u", 1)] }));
    image.apply(change(2, { t: "unsubscribe", c: "a", f: ["t"] }));
    image.apply(message(3, "t"));
    image.apply(message(4, "u"));
    assert.deepEqual(offsetsOf(image, "a"), [4]);
    image.apply(change(5, { t: "drop", c: "a" }));
    image.apply(message(6, "u"));
    assert.equal(image.sessions.has("a"), false);
    assert.deepEqual(image.referencedOffsets(), []);
  });

  test("QoS 2 outbound: send, received, and packet id reuse completing the earlier delivery", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "a", e: 60 }));
    image.apply(change(1, { t: "subscribe", c: "a", s: [sub("t", 2)] }));
    image.apply(message(2, "t", { q: 2 }));
    image.apply(message(3, "t", { q: 2 }));
    image.apply(change(4, { t: "send", c: "a", o: 2, p: 9 }));
    image.apply(change(5, { t: "received", c: "a", p: 9 }));
    const first = image.sessions.get("a")?.deliveries[0];
    assert.deepEqual([first?.p, first?.s], [9, DeliveryState.AWAITING_COMP]);
    image.apply(change(6, { t: "send", c: "a", o: 3, p: 9 }));
    assert.deepEqual(image.sessions.get("a")?.deliveries, [
      { o: 3, q: 2, r: false, ids: null, p: 9, s: DeliveryState.AWAITING_ACK },
    ]);
  });

  test("QoS 2 inbound: a persistent publisher's packet id is held until released", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "pub", e: 60 }));
    image.apply(message(1, "t", { q: 2, o: "pub", i: 12 }));
    assert.deepEqual([...(image.sessions.get("pub")?.inbound ?? [])], [12]);
    image.apply(change(2, { t: "released", c: "pub", p: 12 }));
    assert.deepEqual([...(image.sessions.get("pub")?.inbound ?? [])], []);
  });

  test("QoS 2 inbound: a delayed publish's packet id is held by its own record", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "pub", e: 60 }));
    image.apply(change(1, { t: "held", c: "pub", p: 5 }));
    image.apply(change(2, { t: "held", c: "gone", p: 5 }));
    assert.deepEqual([...(image.sessions.get("pub")?.inbound ?? [])], [5]);
    assert.equal(image.sessions.has("gone"), false, "no session is made up for a hold");
    image.apply(change(3, { t: "released", c: "pub", p: 5 }));
    assert.deepEqual([...(image.sessions.get("pub")?.inbound ?? [])], []);
  });

  test("retained messages are set and deleted by replay", () => {
    const image = new DurableImage();
    image.apply(message(0, "r/1", { r: true }));
    image.apply(message(1, "r/2", { r: true }));
    image.apply({
      ...(message(2, "r/2", { r: true }) as Extract<LogEntry, { kind: "message" }>),
      payload: Buffer.alloc(0),
    });
    assert.deepEqual([...image.retained.keys()], ["r/1"]);
  });

  test("a retained message a limit kept out of the store is not retained by replay", () => {
    const image = new DurableImage();
    image.apply(change(0, { t: "session", c: "sub", e: 60 }));
    image.apply(change(1, { t: "subscribe", c: "sub", s: [sub("r/#", 1)] }));
    image.apply(message(2, "r/1", { r: true }));
    image.apply(message(3, "r/2", { r: true, n: true }));
    assert.deepEqual([...image.retained.keys()], ["r/1"]);
    assert.deepEqual(offsetsOf(image, "sub"), [2, 3], "delivered all the same");
  });

  test("replay continues from a checkpoint as if it had never stopped", () => {
    const saved: SessionImage = {
      c: "a",
      e: 60,
      d: 1000,
      subs: [sub("t", 1)],
      deliveries: [{ o: 1, q: 1, r: false, ids: null, p: 0, s: DeliveryState.QUEUED }],
      inbound: [4],
    };
    const image = DurableImage.fromCheckpoint([saved], []);
    image.apply(message(7, "t"));
    assert.deepEqual(offsetsOf(image, "a"), [1, 7]);
    assert.deepEqual(image.referencedOffsets(), [1, 7]);
    assert.equal(image.sessions.get("a")?.disconnectedAtMs, 1000);
  });
});
