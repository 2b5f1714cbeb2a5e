/**
 * Flapping detection: a client id that disconnects `maxDisconnects` times within `windowMs` is
 * reported once, so the broker can ban it for a while (docs/security.md, [mqtt_flapping]).
 *
 * Pure: time comes in as arguments. Memory is bounded twice over: each client keeps at most
 * `maxDisconnects - 1` timestamps (reaching the count reports and forgets it), and at most
 * FLAPPING_CLIENTS_MAX clients are tracked, the least recently seen one making room.
 */
import { assert } from "../../errors.ts";

/** Client ids tracked at once; beyond this the least recently disconnected is forgotten. */
export const FLAPPING_CLIENTS_MAX = 100_000;
/** What `mqtt_flapping.max_disconnects` allows at most (src/config/schema.ts). */
const DISCONNECTS_MAX = 1_000_000;

export interface FlappingOptions {
  readonly maxDisconnects: number;
  readonly windowMs: number;
  /** Defaults to FLAPPING_CLIENTS_MAX; smaller in tests. */
  readonly clientsMax?: number;
}

export class FlappingDetector {
  readonly maxDisconnects: number;
  readonly windowMs: number;
  readonly clientsMax: number;
  /**
   * client id -> its recent disconnect times, oldest first. Map order is recency of the last
   * disconnect: each disconnect moves its client to the end.
   */
  readonly #history: Map<string, number[]>;

  constructor(options: FlappingOptions) {
    const { maxDisconnects, windowMs } = options;
    const clientsMax = options.clientsMax ?? FLAPPING_CLIENTS_MAX;
    assert(Number.isInteger(maxDisconnects) && maxDisconnects >= 1, "maxDisconnects >= 1");
    assert(maxDisconnects <= DISCONNECTS_MAX, "maxDisconnects within config bounds");
    assert(Number.isFinite(windowMs) && windowMs > 0, "windowMs > 0");
    assert(Number.isInteger(clientsMax) && clientsMax >= 1, "clientsMax >= 1");
    this.maxDisconnects = maxDisconnects;
    this.windowMs = windowMs;
    this.clientsMax = clientsMax;
    this.#history = new Map();
  }

  /** How many client ids are tracked (for tests and metrics). */
  get size(): number {
    return this.#history.size;
  }

  /**
   * Records a disconnect. True when it is the `maxDisconnects`-th within the last `windowMs`
   * (disconnects at `nowMs - windowMs` or earlier no longer count); the client's history is
   * then forgotten, so the next report needs a full count again.
   */
  onDisconnect(clientId: string, nowMs: number): boolean {
    let times = this.#history.get(clientId);
    if (times === undefined) {
      if (this.#history.size >= this.clientsMax) this.#makeRoom(nowMs);
      times = [];
    } else {
      this.#history.delete(clientId); // re-inserted below, as the most recent
    }
    dropOlderThan(times, nowMs - this.windowMs);
    times.push(nowMs);
    if (times.length >= this.maxDisconnects) {
      assert(times.length === this.maxDisconnects, "history never outgrows the count");
      return true; // already out of the map: forgotten
    }
    this.#history.set(clientId, times);
    assert(this.#history.size <= this.clientsMax, "tracked clients bounded");
    return false;
  }

  /**
   * Forgets clients with no disconnect inside the window; returns how many. Clients are in
   * order of their last disconnect, so the walk stops at the first one still inside the
   * window: amortized O(1) per disconnect. (Should the clock step back, a few stale entries
   * wait for a later prune or for eviction; they never cause a report on their own.)
   */
  prune(nowMs: number): number {
    const cutoffMs = nowMs - this.windowMs;
    let pruned = 0;
    for (const [clientId, times] of this.#history) {
      assert(times.length > 0, "tracked clients have a disconnect");
      if (times[times.length - 1] > cutoffMs) break;
      this.#history.delete(clientId);
      pruned++;
    }
    return pruned;
  }

  /** Prunes; when every tracked client is still active, forgets the least recent one. */
  #makeRoom(nowMs: number): void {
    this.prune(nowMs);
    if (this.#history.size < this.clientsMax) return;
    const oldest = this.#history.keys().next();
    assert(oldest.done !== true, "a full map has a first key");
    this.#history.delete(oldest.value);
  }
}

/** Removes the leading timestamps at or before `cutoffMs` (the array is in time order). */
function dropOlderThan(times: number[], cutoffMs: number): void {
  let keep = 0;
  while (keep < times.length && times[keep] <= cutoffMs) keep++;
  if (keep > 0) times.splice(0, keep);
}
