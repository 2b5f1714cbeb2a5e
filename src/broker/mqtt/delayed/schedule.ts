/**
 * The waiting delayed messages in due order: a binary min-heap on (dueAtMs, id), indexed by id
 * so that one can be taken out (an administrator's delete) in O(log n). Pure: no timers, no
 * clock. The shell (publisher.ts) keeps one timer for `nextDueMs()` and re-arms it when `add`
 * or `remove` changes the earliest entry, or after `takeDue`.
 */
import { TIMER_DELAY_MS_MAX } from "../../../config/limits.ts";
import { assert } from "../../../errors.ts";
import type { QoS } from "../../../protocol/mqtt/constants.ts";

/** What the schedule (and the admin API) knows of a waiting message; its payload is stored. */
export interface DelayedEntry {
  /** Unique, increasing in the order messages were accepted (breaks ties in due order). */
  readonly id: number;
  /** The target topic. */
  readonly topic: string;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly payloadBytes: number;
  readonly publishedAtMs: number;
  readonly dueAtMs: number;
  /** Absolute Message Expiry, counted from the original publish; 0 = none. */
  readonly expiresAtMs: number;
  /** The publisher's client id (for No Local when it is published). */
  readonly origin: string;
}

function before(a: DelayedEntry, b: DelayedEntry): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.id < b.id);
}

export class DelaySchedule {
  readonly #heap: DelayedEntry[] = [];
  /** id -> position in #heap. */
  readonly #index = new Map<number, number>();

  get size(): number {
    return this.#heap.length;
  }

  has(id: number): boolean {
    return this.#index.has(id);
  }

  /** Adds an entry; true when it is now the earliest (the timer must be re-armed). */
  add(entry: DelayedEntry): boolean {
    assert(!this.#index.has(entry.id), `delayed entry ${entry.id} scheduled twice`);
    assert(Number.isFinite(entry.dueAtMs), "due time is a number");
    this.#heap.push(entry);
    this.#index.set(entry.id, this.#heap.length - 1);
    this.#up(this.#heap.length - 1);
    return this.#heap[0] === entry;
  }

  /** Takes an entry out; undefined when it is not waiting (published, deleted, unknown). */
  remove(id: number): DelayedEntry | undefined {
    const position = this.#index.get(id);
    if (position === undefined) return undefined;
    const entry = this.#heap[position];
    this.#removeAt(position);
    assert(!this.#index.has(id) && this.#heap.length === this.#index.size, "index in step");
    return entry;
  }

  /** Due time of the earliest entry; null when nothing waits. */
  nextDueMs(): number | null {
    return this.#heap.length === 0 ? null : this.#heap[0].dueAtMs;
  }

  /** Takes up to `countMax` entries due at `nowMs`, earliest first. */
  takeDue(nowMs: number, countMax: number): DelayedEntry[] {
    assert(countMax > 0, "takes at least one");
    const due: DelayedEntry[] = [];
    while (due.length < countMax && this.#heap.length > 0 && this.#heap[0].dueAtMs <= nowMs) {
      due.push(this.#heap[0]);
      this.#removeAt(0);
    }
    return due;
  }

  /** Every waiting entry, earliest first (a copy: for listing). */
  inDueOrder(): DelayedEntry[] {
    return [...this.#heap].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  #removeAt(position: number): void {
    const heap = this.#heap;
    const removed = heap[position];
    const last = heap.pop() as DelayedEntry;
    this.#index.delete(removed.id);
    if (position === heap.length) return; // it was the last one
    heap[position] = last;
    this.#index.set(last.id, position);
    this.#up(position);
    this.#down(this.#index.get(last.id) as number);
  }

  #up(start: number): void {
    const heap = this.#heap;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(start: number): void {
    const heap = this.#heap;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const entry = heap[a];
    heap[a] = heap[b];
    heap[b] = entry;
    this.#index.set(heap[a].id, a);
    this.#index.set(heap[b].id, b);
  }
}

/**
 * How long the one timer waits for the earliest due time: never negative, and never beyond
 * what setTimeout honours (a longer delay would fire after 1 ms). A wait cut short wakes up,
 * finds nothing due and re-arms for the rest.
 */
export function timerDelayMs(nextDueMs: number, nowMs: number): number {
  const delayMs = Math.min(Math.max(0, nextDueMs - nowMs), TIMER_DELAY_MS_MAX);
  assert(delayMs >= 0 && delayMs <= TIMER_DELAY_MS_MAX, "timer delay in range");
  return delayMs;
}
