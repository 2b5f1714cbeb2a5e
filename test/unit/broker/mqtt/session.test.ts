import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Message } from "../../../../src/broker/mqtt/message.ts";
import {
  type Delivery,
  DeliveryState,
  type EnqueueResult,
  newDelivery,
  type QueueDropPolicy,
  Session,
  type ShareRef,
} from "../../../../src/broker/mqtt/session.ts";
import type { QoS } from "../../../../src/protocol/mqtt/constants.ts";

const PACKET_ID_MAX = 65535;
const SHARE: ShareRef = { group: "g", filter: "a/b" };

function message(qos: QoS = 2): Message {
  return new Message("a/b", Buffer.from("x"), qos, false, undefined, 0, "pub");
}

function delivery(qos: QoS = 1, share: ShareRef | null = null): Delivery {
  return newDelivery(message(qos), qos, false, null, share);
}

/** Same deliveries (by identity, not structure: many deliveries look alike) in the same order. */
function assertSame(actual: Delivery[], expected: Delivery[], what = "deliveries"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) assert.equal(actual[i], expected[i], `${what}[${i}]`);
}

/** Allocates an id and marks a new delivery sent under it, as a connection does. */
function send(session: Session, d: Delivery = delivery()): number {
  const id = session.allocatePacketId();
  assert.ok(id >= 1 && id <= PACKET_ID_MAX);
  session.markSent(d, id);
  return id;
}

// ---- packet identifiers ---------------------------------------------------------------

test("allocatePacketId: counts up from 1 and never returns an id in use", () => {
  const session = new Session("c");
  const ids = [send(session), send(session), send(session), send(session), send(session)];
  assert.deepEqual(ids, [1, 2, 3, 4, 5]);
  assert.ok(session.onPuback(2) !== undefined);
  assert.ok(session.onPuback(4) !== undefined);
  assert.equal(send(session), 6, "freed ids are not reused before the counter wraps");
  // Hold every 7th id, then take every free one through a wrap-around: none is in use.
  for (let id = 7; id <= PACKET_ID_MAX; id += 7) {
    if (!session.inflight.has(id)) session.markSent(delivery(), id);
  }
  while (session.inflight.size < PACKET_ID_MAX) {
    const id = session.allocatePacketId();
    if (session.inflight.has(id)) assert.fail(`id ${id} is in use`);
    session.markSent(delivery(), id);
  }
  assert.equal(session.allocatePacketId(), 0);
});

test("allocatePacketId: cycles through 1..65535, skipping inflight ids", () => {
  const session = new Session("c");
  const held = [2, 100, PACKET_ID_MAX];
  for (const id of held) session.markSent(delivery(), id);
  const expected: number[] = [];
  for (let lap = 0; lap < 2; lap++) {
    for (let id = 1; id <= PACKET_ID_MAX; id++) if (!held.includes(id)) expected.push(id);
  }
  const got: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    const id = send(session);
    got.push(id);
    assert.ok(session.onPuback(id) !== undefined);
  }
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== expected[i]) assert.fail(`allocation ${i}: got ${got[i]}, want ${expected[i]}`);
  }
  assert.equal(session.inflight.size, held.length);
});

test("allocatePacketId: returns 0 when all 65535 ids are in flight", () => {
  const session = new Session("c");
  const seen = new Set<number>();
  for (let i = 0; i < PACKET_ID_MAX; i++) seen.add(send(session));
  assert.equal(seen.size, PACKET_ID_MAX);
  assert.equal(session.inflight.size, PACKET_ID_MAX);
  assert.equal(session.allocatePacketId(), 0);
  assert.equal(session.allocatePacketId(), 0, "still full");
  assert.ok(session.onPuback(40_000) !== undefined);
  assert.equal(session.allocatePacketId(), 40_000, "the only free id");
});

// ---- queue bound ------------------------------------------------------------------------

function fillQueue(session: Session, count: number, max: number, policy: QueueDropPolicy) {
  const items: Delivery[] = [];
  for (let i = 0; i < count; i++) {
    const d = delivery();
    items.push(d);
    assert.equal(session.enqueue(d, max, policy), "queued");
  }
  return items;
}

test("enqueue drop_new: at the bound the new delivery is dropped", () => {
  const session = new Session("c");
  const items = fillQueue(session, 3, 3, "drop_new");
  const extra = delivery();
  assert.equal(session.enqueue(extra, 3, "drop_new"), "dropped_new");
  assert.equal(session.enqueue(delivery(), 3, "drop_new"), "dropped_new");
  assertSame([...session.queue], items);
  assert.equal(session.queue.length, 3);
});

test("enqueue drop_oldest: at the bound the oldest delivery makes room", () => {
  const session = new Session("c");
  const [first, second, third] = fillQueue(session, 3, 3, "drop_oldest");
  const fourth = delivery();
  const fifth = delivery();
  assert.equal(session.enqueue(fourth, 3, "drop_oldest"), "dropped_oldest");
  assertSame([...session.queue], [second, third, fourth]);
  assert.equal(session.enqueue(fifth, 3, "drop_oldest"), "dropped_oldest");
  assertSame([...session.queue], [third, fourth, fifth]);
  assert.ok(![...session.queue].includes(first));
});

test("enqueue with max 0 drops every delivery under either policy", () => {
  for (const policy of ["drop_new", "drop_oldest"] as const) {
    const session = new Session("c");
    assert.equal(session.enqueue(delivery(), 0, policy), "dropped_new", policy);
    assert.equal(session.queue.length, 0, policy);
  }
});

test("enqueue rejects a delivery that was already sent", () => {
  const session = new Session("c");
  const d = delivery();
  send(session, d);
  assert.throws(() => session.enqueue(d, 10, "drop_new"), /only queued deliveries/);
});

// ---- acknowledgements ----------------------------------------------------------------------

test("markSent: records the id and state; rejects QoS 0, id 0 and an id in use", () => {
  const session = new Session("c");
  const d = delivery(1);
  session.markSent(d, 7);
  assert.equal(d.packetId, 7);
  assert.equal(d.state, DeliveryState.AWAITING_ACK);
  assert.equal(session.inflight.get(7), d);
  assert.throws(() => session.markSent(delivery(1), 7), /packet id in use/);
  assert.throws(() => session.markSent(delivery(0), 8), /QoS 1\/2/);
  assert.throws(() => session.markSent(delivery(1), 0), /QoS 1\/2/);
  assert.equal(session.inflight.size, 1);
});

test("onPuback completes a QoS 1 delivery once; ignores QoS 2 and unknown ids", () => {
  const session = new Session("c");
  const q1 = delivery(1);
  const q2 = delivery(2);
  const id1 = send(session, q1);
  const id2 = send(session, q2);
  assert.equal(session.onPuback(999), undefined);
  assert.equal(session.onPuback(id2), undefined, "PUBACK does not complete QoS 2");
  assert.equal(session.inflight.get(id2), q2);
  assert.equal(session.onPuback(id1), q1);
  assert.equal(session.inflight.has(id1), false);
  assert.equal(session.onPuback(id1), undefined, "a second PUBACK is unknown");
  assert.equal(session.inflight.size, 1);
});

test("onPubrec: reason < 0x80 -> pubrel and AWAITING_COMP; >= 0x80 -> done and removed", () => {
  const session = new Session("c");
  for (const reason of [0x00, 0x10, 0x7f]) {
    const d = delivery(2);
    const id = send(session, d);
    assert.equal(session.onPubrec(id, reason), "pubrel", `reason ${reason}`);
    assert.equal(d.state, DeliveryState.AWAITING_COMP);
    assert.equal(session.inflight.get(id), d, "kept until PUBCOMP");
    assert.equal(session.onPubrec(id, reason), "pubrel", "a repeated PUBREC is answered again");
  }
  for (const reason of [0x80, 0x87, 0x97]) {
    const d = delivery(2);
    const id = send(session, d);
    assert.equal(session.onPubrec(id, reason), "done", `reason ${reason}`);
    assert.equal(session.inflight.has(id), false);
  }
  assert.equal(session.inflight.size, 3);
});

test("onPubrec: unknown ids and QoS 1 ids are unknown and change nothing", () => {
  const session = new Session("c");
  const q1 = delivery(1);
  const id = send(session, q1);
  assert.equal(session.onPubrec(12345, 0), "unknown");
  assert.equal(session.onPubrec(id, 0), "unknown");
  assert.equal(session.onPubrec(id, 0x80), "unknown");
  assert.equal(q1.state, DeliveryState.AWAITING_ACK);
  assert.equal(session.inflight.get(id), q1);
});

test("onPubcomp completes a QoS 2 delivery only after PUBREC", () => {
  const session = new Session("c");
  const q2 = delivery(2);
  const q1 = delivery(1);
  const id2 = send(session, q2);
  const id1 = send(session, q1);
  assert.equal(session.onPubcomp(id2), false, "PUBCOMP before PUBREC");
  assert.equal(session.inflight.get(id2), q2);
  assert.equal(session.onPubcomp(id1), false, "PUBCOMP for a QoS 1 delivery");
  assert.equal(session.onPubcomp(999), false);
  assert.equal(session.onPubrec(id2, 0), "pubrel");
  assert.equal(session.onPubcomp(id2), true);
  assert.equal(session.inflight.has(id2), false);
  assert.equal(session.onPubcomp(id2), false, "a second PUBCOMP is unknown");
  assert.equal(session.inflight.get(id1), q1);
});

// ---- shared subscription hand-off ---------------------------------------------------------

test("takeSharedDeliveries: takes shared QoS 1 inflight and queued ones; sent QoS 2 stays", () => {
  const session = new Session("c");
  const sharedQ1 = delivery(1, SHARE);
  const sharedQ2Received = delivery(2, SHARE);
  const sharedQ2 = delivery(2, SHARE);
  const plainInflight = delivery(1);
  const idA = send(session, sharedQ1);
  const idB = send(session, sharedQ2Received);
  const idC = send(session, sharedQ2);
  const idD = send(session, plainInflight);
  assert.equal(session.onPubrec(idB, 0), "pubrel");

  const [n1, n2, n3] = [delivery(1), delivery(2), delivery(1)];
  const [s1, s2] = [delivery(1, SHARE), delivery(2, SHARE)];
  for (const d of [n1, s1, n2, s2, n3]) session.enqueue(d, 10, "drop_new");

  const taken = session.takeSharedDeliveries();
  assertSame(taken, [sharedQ1, s1, s2]);
  assert.deepEqual([...session.inflight.keys()], [idB, idC, idD]);
  assert.equal(session.inflight.has(idA), false);
  assertSame([...session.queue], [n1, n2, n3], "non-shared queue order kept");
  assert.deepEqual(session.takeSharedDeliveries(), [], "nothing left to take");
});

test("takeSharedDeliveries: what `movable` refuses stays, with its packet id and place", () => {
  const session = new Session("c");
  const other: ShareRef = { group: "other", filter: "t" };
  const stays = delivery(1, SHARE);
  const goes = delivery(1, other);
  const plain = delivery(1);
  const [idStays, idGoes, idPlain] = [
    send(session, stays),
    send(session, goes),
    send(session, plain),
  ];
  const [q1, q2] = [delivery(1, SHARE), delivery(1, other)];
  for (const d of [q1, q2]) session.enqueue(d, 10, "drop_new");

  const taken = session.takeSharedDeliveries((share) => share === other);
  assertSame(taken, [goes, q2]);
  assert.deepEqual([...session.inflight.keys()], [idStays, idPlain]);
  assert.equal(session.inflight.get(idStays)?.state, DeliveryState.AWAITING_ACK);
  assert.equal(session.inflight.has(idGoes), false);
  assertSame([...session.queue], [q1]);
});

test("clearAll forgets subscriptions, inflight, queue and inbound QoS 2 ids", () => {
  const session = new Session("c");
  send(session);
  session.enqueue(delivery(), 5, "drop_new");
  session.inboundQos2.add(3);
  session.subscriptions.set("a", {
    filter: "a",
    matchFilter: "a",
    shareGroup: null,
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: 0,
    exclusive: false,
  });
  session.clearAll();
  assert.equal(session.inflight.size, 0);
  assert.equal(session.queue.length, 0);
  assert.equal(session.inboundQos2.size, 0);
  assert.equal(session.subscriptions.size, 0);
});

// ---- model test ----------------------------------------------------------------------------

type SessionOp =
  | { kind: "deliver"; qos: 1 | 2; shared: boolean }
  | { kind: "pump" }
  | { kind: "puback" | "pubcomp"; known: boolean; pick: number }
  | { kind: "pubrec"; known: boolean; pick: number; reason: number }
  | { kind: "takeShared" };

const pickArbitrary = { known: fc.boolean(), pick: fc.nat() };
const sessionOp: fc.Arbitrary<SessionOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("deliver" as const),
      qos: fc.constantFrom(1 as const, 2 as const),
      shared: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "pump" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom("puback" as const, "pubcomp" as const),
      ...pickArbitrary,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("pubrec" as const),
      ...pickArbitrary,
      reason: fc.constantFrom(0x00, 0x10, 0x80, 0x87),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "takeShared" as const }) },
);

/**
 * A plain reference model of an MQTT sender: a FIFO array, an id -> delivery map in send order,
 * and counters for where deliveries went. The session must agree with it after every step.
 */
class SenderModel {
  readonly queue: Delivery[] = [];
  readonly inflight = new Map<number, { delivery: Delivery; state: number }>();
  created = 0;
  completed = 0;
  dropped = 0;
  taken = 0;

  enqueue(d: Delivery, max: number, policy: QueueDropPolicy): EnqueueResult {
    if (this.queue.length < max) {
      this.queue.push(d);
      return "queued";
    }
    this.dropped++;
    if (policy === "drop_new" || max === 0) return "dropped_new";
    this.queue.shift();
    this.queue.push(d);
    return "dropped_oldest";
  }

  puback(id: number): Delivery | undefined {
    const entry = this.inflight.get(id);
    if (entry === undefined || entry.delivery.qos !== 1) return undefined;
    this.inflight.delete(id);
    this.completed++;
    return entry.delivery;
  }

  pubrec(id: number, reason: number): "pubrel" | "done" | "unknown" {
    const entry = this.inflight.get(id);
    if (entry === undefined || entry.delivery.qos !== 2) return "unknown";
    if (reason >= 0x80) {
      this.inflight.delete(id);
      this.completed++;
      return "done";
    }
    entry.state = DeliveryState.AWAITING_COMP;
    return "pubrel";
  }

  pubcomp(id: number): boolean {
    const entry = this.inflight.get(id);
    if (entry === undefined || entry.state !== DeliveryState.AWAITING_COMP) return false;
    this.inflight.delete(id);
    this.completed++;
    return true;
  }

  takeShared(): Delivery[] {
    const taken: Delivery[] = [];
    for (const [id, entry] of [...this.inflight]) {
      // An inflight QoS 2 message stays with its receiver [MQTT-4.8.2-4, -5].
      if (entry.delivery.share !== null && entry.delivery.qos === 1) {
        this.inflight.delete(id);
        taken.push(entry.delivery);
      }
    }
    const kept = this.queue.filter((d) => d.share === null);
    taken.push(...this.queue.filter((d) => d.share !== null));
    this.queue.splice(0, this.queue.length, ...kept);
    this.taken += taken.length;
    return taken;
  }
}

interface Harness {
  session: Session;
  model: SenderModel;
  window: number;
  max: number;
  policy: QueueDropPolicy;
}

function sendOne(h: Harness, d: Delivery): void {
  const id = h.session.allocatePacketId();
  assert.ok(id >= 1 && id <= PACKET_ID_MAX, `allocated id ${id}`);
  assert.ok(!h.model.inflight.has(id), `allocated id ${id} is in use`);
  h.session.markSent(d, id);
  h.model.inflight.set(id, { delivery: d, state: DeliveryState.AWAITING_ACK });
}

function pickId(h: Harness, known: boolean, pick: number): number {
  const ids = [...h.model.inflight.keys()];
  if (known && ids.length > 0) return ids[pick % ids.length];
  return (pick % PACKET_ID_MAX) + 1;
}

function step(h: Harness, op: SessionOp): void {
  const { session, model } = h;
  if (op.kind === "deliver") {
    const d = delivery(op.qos, op.shared ? SHARE : null);
    model.created++;
    if (model.queue.length === 0 && model.inflight.size < h.window) sendOne(h, d);
    else assert.equal(session.enqueue(d, h.max, h.policy), model.enqueue(d, h.max, h.policy));
  } else if (op.kind === "pump") {
    while (model.queue.length > 0 && model.inflight.size < h.window) {
      const d = session.queue.shift();
      assert.equal(d, model.queue.shift());
      sendOne(h, d as Delivery);
    }
  } else if (op.kind === "puback") {
    const id = pickId(h, op.known, op.pick);
    assert.equal(session.onPuback(id), model.puback(id));
  } else if (op.kind === "pubrec") {
    const id = pickId(h, op.known, op.pick);
    assert.equal(session.onPubrec(id, op.reason), model.pubrec(id, op.reason));
  } else if (op.kind === "pubcomp") {
    const id = pickId(h, op.known, op.pick);
    assert.equal(session.onPubcomp(id), model.pubcomp(id));
  } else {
    assertSame(session.takeSharedDeliveries(), model.takeShared(), "taken");
  }
}

function checkInvariants(h: Harness): void {
  const { session, model } = h;
  const queued = [...session.queue];
  assert.ok(queued.length <= h.max, "queue within its bound");
  assertSame(queued, model.queue, "queue");
  for (const d of queued) assert.equal(d.state, DeliveryState.QUEUED);
  const inflight = [...session.inflight];
  assert.ok(inflight.length <= h.window);
  assert.deepEqual(
    inflight.map(([id, d]) => [id, d.state]),
    [...model.inflight].map(([id, entry]) => [id, entry.state]),
  );
  assertSame(
    inflight.map(([, d]) => d),
    [...model.inflight.values()].map((entry) => entry.delivery),
    "inflight",
  );
  for (const [id, d] of inflight) {
    assert.ok(Number.isInteger(id) && id >= 1 && id <= PACKET_ID_MAX, `inflight id ${id}`);
    assert.equal(d.packetId, id);
    assert.ok(d.state !== DeliveryState.AWAITING_COMP || d.qos === 2, "only QoS 2 awaits COMP");
  }
  // Every delivery is in exactly one place: queued, inflight, completed, dropped or taken.
  const live = new Set<Delivery>([...queued, ...session.inflight.values()]);
  assert.equal(live.size, queued.length + inflight.length, "no delivery queued and inflight");
  const accounted = live.size + model.completed + model.dropped + model.taken;
  assert.equal(accounted, model.created, "delivery count conservation");
}

test("session model test: random deliver/ack sequences against a reference sender", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom<QueueDropPolicy>("drop_new", "drop_oldest"),
      fc.array(sessionOp, { maxLength: 200 }),
      (window, max, policy, ops) => {
        const h: Harness = {
          session: new Session("c"),
          model: new SenderModel(),
          window,
          max,
          policy,
        };
        for (const op of ops) {
          step(h, op);
          checkInvariants(h);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("collections are made on first use and handed back once empty", () => {
  const session = new Session("lazy");
  assert.equal(session.inflightCount, 0);
  assert.equal(session.queueLength, 0);
  assert.equal(session.subscriptionCount, 0);
  assert.equal(session.inboundQos2Count, 0);
  assert.deepEqual([...session.subscriptionValues()], []);
  assert.deepEqual(session.takeSharedDeliveries(), []);
  const id = send(session);
  session.enqueue(delivery(), 10, "drop_new");
  session.inboundQos2.add(7);
  assert.equal(session.inflightCount, 1);
  assert.equal(session.queueLength, 1);
  assert.equal(session.inboundQos2Count, 1);
  session.releaseEmpty(); // nothing is empty: all kept
  assert.equal(session.inflightCount, 1);
  assert.equal(session.queueLength, 1);
  assert.ok(session.onPuback(id) !== undefined);
  session.queue.shift();
  session.inboundQos2.delete(7);
  const inflight = session.inflight;
  session.releaseEmpty();
  assert.notEqual(session.inflight, inflight, "an empty map is dropped and made again on use");
  assert.equal(session.allocatePacketId() > 0, true);
  session.clearAll();
  assert.equal(session.inflightCount + session.queueLength + session.subscriptionCount, 0);
});
