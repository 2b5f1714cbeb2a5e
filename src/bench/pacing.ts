/**
 * Rate pacing arithmetic, pure: how many messages (or connections) are due by a given time at a
 * given rate. Counting from a fixed start, rather than adding one interval per send, keeps the
 * long-run rate exact whatever the timer jitter.
 */
import { assert } from "../errors.ts";
import { PACING_BACKLOG_SECONDS_MAX, PACING_TICK_MS_MAX, PACING_TICK_MS_MIN } from "./limits.ts";

const DUE_EPSILON = 1e-9;

/** Sends due `elapsedMs` after the start at `ratePerSecond`: one at 0 ms, then one per interval. */
export function dueCount(ratePerSecond: number, elapsedMs: number): number {
  assert(ratePerSecond > 0, `rate ${ratePerSecond}`);
  if (elapsedMs < 0) return 0;
  // The epsilon absorbs rounding, so that a send is due at exactly dueAtMs() of it.
  return Math.floor((ratePerSecond * elapsedMs) / 1000 + DUE_EPSILON) + 1;
}

/** Milliseconds from the start until send number `count` (0-based) is due. */
export function dueAtMs(ratePerSecond: number, count: number): number {
  assert(ratePerSecond > 0 && count >= 0, `rate ${ratePerSecond}, count ${count}`);
  return (count * 1000) / ratePerSecond;
}

/**
 * Publisher `index` of `count` starts this many milliseconds late, so that publishers at a low
 * rate take turns over one interval instead of all sending on the same timer tick.
 */
export function startOffsetMs(index: number, count: number, ratePerSecond: number): number {
  assert(index >= 0 && index < count, `publisher ${index} of ${count}`);
  const intervalMs = Math.min(1000 / ratePerSecond, 1000);
  return (index / count) * intervalMs;
}

/** How often to run the paced publishers' timer: once per interval, within fixed bounds. */
export function tickIntervalMs(ratePerSecond: number): number {
  assert(ratePerSecond > 0, `rate ${ratePerSecond}`);
  return Math.min(
    PACING_TICK_MS_MAX,
    Math.max(PACING_TICK_MS_MIN, Math.floor(1000 / ratePerSecond)),
  );
}

/**
 * Paces one sender. A sender held back (by its inflight window or a full socket) catches up
 * with at most `backlogCountMax` messages at once; whatever is owed beyond that is dropped
 * from the schedule (and shows as a rate below the target), never sent as one huge burst.
 */
export class Pacer {
  readonly ratePerSecond: number;
  readonly backlogCountMax: number;
  private startMs: number;
  /** Sends already accounted for since `startMs`. */
  private baseCount = 0;

  constructor(ratePerSecond: number, startMs: number) {
    assert(ratePerSecond > 0 && Number.isFinite(ratePerSecond), `rate ${ratePerSecond}`);
    this.ratePerSecond = ratePerSecond;
    this.backlogCountMax = Math.max(1, Math.floor(ratePerSecond * PACING_BACKLOG_SECONDS_MAX));
    this.startMs = startMs;
  }

  /** How many sends are allowed at `nowMs`, given `sentCount` sends so far. */
  allowance(nowMs: number, sentCount: number): number {
    assert(sentCount >= 0 && nowMs >= 0, `sent ${sentCount} at ${nowMs} ms`);
    const due = this.baseCount + dueCount(this.ratePerSecond, nowMs - this.startMs);
    const owed = due - sentCount;
    if (owed <= this.backlogCountMax) return Math.max(0, owed);
    // Restart the schedule so that exactly backlogCountMax are owed now.
    this.startMs = nowMs;
    this.baseCount = sentCount + this.backlogCountMax - 1;
    return this.backlogCountMax;
  }

  /** Milliseconds from `nowMs` until the next send is due after `sentCount` sends. */
  delayMs(nowMs: number, sentCount: number): number {
    const next = Math.max(0, sentCount - this.baseCount);
    return Math.max(0, this.startMs + dueAtMs(this.ratePerSecond, next) - nowMs);
  }
}
