/**
 * The durable image of the broker's MQTT state: persistent sessions (subscriptions, the
 * messages queued or in flight to them by log offset, inbound QoS 2 packet ids) and retained
 * messages. At start the broker loads the last checkpoint into an image and replays the log
 * written after it with apply(); pure and deterministic, so it is tested without files.
 */
import type { QoS } from "../../../protocol/mqtt/constants.ts";
import { DeliveryState, type DeliveryStateValue } from "../session.ts";
import { parseSharedFilter } from "../topic.ts";
import { SubscriptionTrie } from "../topic-trie.ts";
import type { LogEntry, MessageMeta, StateChange, StoredSubscription } from "./records.ts";

/** A message on its way to a session, by the log offset of the message. */
export interface StoredDelivery {
  o: number;
  q: QoS;
  r: boolean;
  ids: number[] | null;
  /**
   * Packet id once the delivery was sent under one; 0 otherwise. A QoS 2 send is in the log; a
   * QoS 1 one only in a checkpoint taken while it was in flight.
   */
  p: number;
  s: DeliveryStateValue;
}

/** A persistent session as a checkpoint stores it. */
export interface SessionImage {
  c: string;
  /** Session Expiry Interval, seconds. */
  e: number;
  /** When the session went offline (ms since epoch); 0 = it was connected. */
  d: number;
  subs: StoredSubscription[];
  /** Inflight first, then queued, each in order. */
  deliveries: StoredDelivery[];
  inbound: number[];
}

/** A retained message as a checkpoint stores it: whole, not by offset (it outlives the log). */
export interface RetainedImage {
  topic: string;
  payload: Buffer;
  meta: MessageMeta;
}

export interface SessionState {
  readonly clientId: string;
  expiryS: number;
  disconnectedAtMs: number;
  readonly subs: Map<string, StoredSubscription>;
  deliveries: StoredDelivery[];
  readonly inbound: Set<number>;
}

export class DurableImage {
  readonly sessions = new Map<string, SessionState>();
  readonly retained = new Map<string, RetainedImage>();
  /** Non-shared subscriptions of every session, keyed by client id, for routing on replay. */
  readonly #trie = new SubscriptionTrie<StoredSubscription>();

  static fromCheckpoint(sessions: Iterable<SessionImage>, retained: Iterable<RetainedImage>) {
    const image = new DurableImage();
    for (const s of sessions) {
      const state = image.#create(s.c, s.e);
      state.disconnectedAtMs = s.d;
      state.deliveries = s.deliveries;
      for (const id of s.inbound) state.inbound.add(id);
      image.#subscribe(state, s.subs);
    }
    for (const r of retained) image.retained.set(r.topic, r);
    return image;
  }

  apply(entry: LogEntry): void {
    if (entry.kind === "message") this.#applyMessage(entry);
    else this.#applyChange(entry.change);
  }

  /** Offsets of every message some session still needs, ascending and without repeats. */
  referencedOffsets(): number[] {
    const offsets = new Set<number>();
    for (const s of this.sessions.values()) for (const d of s.deliveries) offsets.add(d.o);
    return [...offsets].sort((a, b) => a - b);
  }

  #applyMessage(entry: Extract<LogEntry, { kind: "message" }>): void {
    const { meta, offset, topic } = entry;
    if (meta.i !== undefined) this.sessions.get(meta.o)?.inbound.add(meta.i);
    if (meta.r && meta.n !== true) {
      if (entry.payload.length === 0) this.retained.delete(topic);
      else this.retained.set(topic, { topic, payload: entry.payload, meta: retainedMeta(meta) });
    }
    const matched = new Map<string, StoredDelivery>();
    this.#trie.match(topic, (clientId, sub) => {
      if (sub.nl && clientId === meta.o) return; // No Local
      const retain = sub.rap && meta.r;
      const seen = matched.get(clientId);
      if (seen === undefined) {
        matched.set(clientId, delivery(offset, sub.q, retain, sub.id));
        return;
      }
      if (sub.q > seen.q) seen.q = sub.q;
      if (retain) seen.r = true;
      if (sub.id !== 0) {
        if (seen.ids === null) seen.ids = [];
        seen.ids.push(sub.id);
      }
    });
    for (const [clientId, d] of matched) this.#deliver(clientId, d, meta.q);
    for (const [clientId, filter] of meta.s ?? []) {
      const sub = this.sessions.get(clientId)?.subs.get(filter);
      if (sub !== undefined) {
        this.#deliver(clientId, delivery(offset, sub.q, sub.rap && meta.r, sub.id), meta.q);
      }
    }
  }

  #deliver(clientId: string, d: StoredDelivery, publishedQos: QoS): void {
    d.q = Math.min(d.q, publishedQos) as QoS;
    // QoS 0 messages are not kept for offline sessions.
    if (d.q > 0) this.sessions.get(clientId)?.deliveries.push(d);
  }

  #applyChange(change: StateChange): void {
    if (change.t === "checkpoint") return;
    if (change.t === "session") {
      const state = this.sessions.get(change.c) ?? this.#create(change.c, change.e);
      state.expiryS = change.e;
      return;
    }
    const state = this.sessions.get(change.c);
    if (state === undefined) return;
    switch (change.t) {
      case "drop":
        for (const filter of state.subs.keys()) this.#unsubscribe(state, filter);
        this.sessions.delete(change.c);
        return;
      case "subscribe":
        this.#subscribe(state, change.s);
        return;
      case "unsubscribe":
        for (const filter of change.f) this.#unsubscribe(state, filter);
        return;
      case "send": {
        // A packet id is reused only once its previous delivery completed.
        state.deliveries = state.deliveries.filter((d) => d.p !== change.p || d.o === change.o);
        const d = state.deliveries.find((x) => x.o === change.o && x.q === 2);
        if (d !== undefined && d.s === DeliveryState.QUEUED) {
          d.p = change.p;
          d.s = DeliveryState.AWAITING_ACK;
        }
        return;
      }
      case "received": {
        // QoS 1 deliveries in flight keep their ids in a checkpoint too; PUBREC is QoS 2's.
        const d = state.deliveries.find((x) => x.p === change.p && x.q === 2);
        if (d !== undefined) d.s = DeliveryState.AWAITING_COMP;
        return;
      }
      case "held":
        state.inbound.add(change.p);
        return;
      case "released":
        state.inbound.delete(change.p);
        return;
    }
  }

  #create(clientId: string, expiryS: number): SessionState {
    const state: SessionState = {
      clientId,
      expiryS,
      disconnectedAtMs: 0,
      subs: new Map(),
      deliveries: [],
      inbound: new Set(),
    };
    this.sessions.set(clientId, state);
    return state;
  }

  #subscribe(state: SessionState, subs: readonly StoredSubscription[]): void {
    for (const sub of subs) {
      state.subs.set(sub.f, sub);
      if (parseSharedFilter(sub.f) === null) this.#trie.add(sub.f, state.clientId, sub);
    }
  }

  #unsubscribe(state: SessionState, filter: string): void {
    if (!state.subs.delete(filter)) return;
    if (parseSharedFilter(filter) === null) this.#trie.remove(filter, state.clientId);
  }
}

function delivery(offset: number, qos: QoS, retain: boolean, id: number): StoredDelivery {
  return {
    o: offset,
    q: qos,
    r: retain,
    ids: id !== 0 ? [id] : null,
    p: 0,
    s: DeliveryState.QUEUED,
  };
}

function retainedMeta(meta: MessageMeta): MessageMeta {
  const kept: MessageMeta = { q: meta.q, r: true, x: meta.x, o: meta.o };
  if (meta.p !== undefined) kept.p = meta.p;
  return kept;
}
