/**
 * Slow-subscription statistics (as EMQX's slow_subs): the (client id, topic) pairs whose
 * deliveries took longest, from the broker receiving the PUBLISH to the subscriber completing it
 * (PUBACK for QoS 1, PUBCOMP for QoS 2).
 *
 * QoS 0 is not measured: a QoS 0 delivery is written in the same synchronous pass that receives
 * the message (it is never queued here), so its latency is always ~0 and measuring it would
 * only cost a clock read per delivery. Messages received before the subscriber's connection
 * opened (retained messages sent on subscribe, messages queued while it was offline) are not
 * counted either, as EMQX ignores messages older than the session: they measure how long the
 * client was away, not how slowly it acknowledges.
 *
 * SlowSubsTable is the pure part (fed latencies and the time); SlowSubs is the shell the ack
 * handlers call. Nothing runs while the feature is off (MqttBroker.slowSubs is null), and an
 * ack below the threshold costs one clock read and two comparisons.
 */
import { assert } from "../../errors.ts";
import type { Message } from "./message.ts";

/** Largest top_k the config allows: a full table is scanned when a new pair displaces one. */
export const SLOW_SUBS_TOP_K_MAX = 1000;

export interface SlowSubsOptions {
  /** How many (client id, topic) pairs are kept. */
  readonly topK: number;
  /** Deliveries faster than this are not recorded. */
  readonly thresholdMs: number;
  /** A pair is forgotten this long after its last slow delivery. */
  readonly expireMs: number;
}

/** One (client id, topic) pair; the table updates it in place. */
export interface SlowSubEntry {
  readonly clientId: string;
  readonly topic: string;
  /** Latency of its latest slow delivery. */
  latencyMs: number;
  /** Highest latency seen since it entered the table: the rank. */
  latencyMsMax: number;
  /** Slow deliveries recorded for it. */
  count: number;
  /** When its latest slow delivery completed (ms since the epoch). */
  lastSeenMs: number;
}

/** Slowest first; among equals the most recently seen first. */
function bySlowest(a: SlowSubEntry, b: SlowSubEntry): number {
  return b.latencyMsMax - a.latencyMsMax || b.lastSeenMs - a.lastSeenMs;
}

/**
 * The top-K slowest pairs above the threshold. Pairs are found through a map per client id,
 * so updating a known pair allocates nothing. A new pair joins while there is room; when the
 * table is full it displaces the pair with the lowest maximum if it is slower (after expired
 * pairs are dropped), else it is not kept.
 */
export class SlowSubsTable {
  readonly options: SlowSubsOptions;
  readonly #byClient = new Map<string, Map<string, SlowSubEntry>>();
  #size = 0;

  constructor(options: SlowSubsOptions) {
    assert(options.topK >= 1 && options.topK <= SLOW_SUBS_TOP_K_MAX, "top_k in range");
    assert(options.thresholdMs >= 0 && options.expireMs > 0, "threshold and expiry in range");
    this.options = options;
  }

  get size(): number {
    return this.#size;
  }

  /** Records one completed delivery; below the threshold it is ignored. */
  record(clientId: string, topic: string, latencyMs: number, nowMs: number): void {
    if (latencyMs < this.options.thresholdMs) return;
    const entry = this.#byClient.get(clientId)?.get(topic);
    if (entry !== undefined) {
      entry.latencyMs = latencyMs;
      if (latencyMs > entry.latencyMsMax) entry.latencyMsMax = latencyMs;
      entry.count++;
      entry.lastSeenMs = nowMs;
      return;
    }
    if (this.#size >= this.options.topK && !this.#makeRoom(latencyMs, nowMs)) return;
    this.#insert({
      clientId,
      topic,
      latencyMs,
      latencyMsMax: latencyMs,
      count: 1,
      lastSeenMs: nowMs,
    });
    assert(this.#size <= this.options.topK, "table within top_k");
  }

  /** The pairs not expired at `nowMs`, slowest first; expired ones are dropped. */
  list(nowMs: number): SlowSubEntry[] {
    this.#purgeExpired(nowMs);
    const out: SlowSubEntry[] = [];
    for (const topics of this.#byClient.values()) {
      for (const entry of topics.values()) out.push({ ...entry });
    }
    assert(out.length === this.#size, "size matches the entries");
    return out.sort(bySlowest);
  }

  clear(): void {
    this.#byClient.clear();
    this.#size = 0;
  }

  #insert(entry: SlowSubEntry): void {
    let topics = this.#byClient.get(entry.clientId);
    if (topics === undefined) {
      topics = new Map();
      this.#byClient.set(entry.clientId, topics);
    }
    topics.set(entry.topic, entry);
    this.#size++;
  }

  #delete(entry: SlowSubEntry): void {
    const topics = this.#byClient.get(entry.clientId);
    if (topics === undefined || !topics.delete(entry.topic)) return;
    if (topics.size === 0) this.#byClient.delete(entry.clientId);
    this.#size--;
  }

  /** Frees a slot for a new pair of `latencyMs`; false when every kept pair is slower. */
  #makeRoom(latencyMs: number, nowMs: number): boolean {
    if (this.#purgeExpired(nowMs) > 0) return true;
    let lowest: SlowSubEntry | null = null;
    for (const topics of this.#byClient.values()) {
      for (const entry of topics.values()) {
        if (lowest === null || bySlowest(entry, lowest) > 0) lowest = entry;
      }
    }
    if (lowest === null || lowest.latencyMsMax >= latencyMs) return false;
    this.#delete(lowest);
    return true;
  }

  /** Drops the pairs whose last slow delivery is older than expire_s; returns how many. */
  #purgeExpired(nowMs: number): number {
    const cutoffMs = nowMs - this.options.expireMs;
    const expired: SlowSubEntry[] = [];
    for (const topics of this.#byClient.values()) {
      for (const entry of topics.values()) if (entry.lastSeenMs <= cutoffMs) expired.push(entry);
    }
    for (const entry of expired) this.#delete(entry);
    return expired.length;
  }
}

/** The shell: what the PUBACK and PUBCOMP handlers call. */
export class SlowSubs {
  readonly table: SlowSubsTable;
  readonly #thresholdMs: number;

  constructor(options: SlowSubsOptions) {
    this.table = new SlowSubsTable(options);
    this.#thresholdMs = options.thresholdMs;
  }

  /**
   * A QoS 1/2 delivery of `message` to `clientId` completed. `connectedAtMs` is when the
   * subscriber's connection opened: older messages are not counted (see the file comment).
   */
  completed(clientId: string, connectedAtMs: number, message: Message): void {
    const receivedAtMs = message.receivedAtMs;
    // 0: received before the statistics were on (or read back from the log).
    if (receivedAtMs === 0 || receivedAtMs < connectedAtMs) return;
    const nowMs = Date.now();
    const latencyMs = nowMs - receivedAtMs;
    if (latencyMs < this.#thresholdMs) return;
    this.table.record(clientId, message.topic, latencyMs, nowMs);
  }
}
