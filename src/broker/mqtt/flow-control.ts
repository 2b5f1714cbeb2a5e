import { THROTTLE_WAIT_MS_MAX } from "../../config/limits.ts";
import { assert } from "../../errors.ts";

/** The connection a FlowControl acts on. */
export interface FlowOwner {
  /** Stop reading from the client. */
  pauseReading(): void;
  /** Read from the client again. */
  resumeReading(): void;
  /** As a subscriber, it did not catch up within THROTTLE_WAIT_MS_MAX. */
  onStuck(): void;
}

/**
 * Backpressure between publishers and the subscribers they feed. A publisher whose messages
 * back up at an online subscriber (its window and queue filling, or its socket not draining)
 * stops being read until that subscriber catches up, so messages wait in TCP buffers instead
 * of being dropped. A subscriber that does not catch up within THROTTLE_WAIT_MS_MAX is marked
 * stuck: publishers are released and its overflow is dropped by policy, so one dead reader
 * cannot stall everyone.
 *
 * Each connection has one FlowControl playing both roles: as a publisher it counts the
 * subscribers it waits for; as a subscriber it lists the publishers waiting for it.
 */
export class FlowControl {
  // An owner object rather than three callbacks: no closures per connection.
  private readonly owner: FlowOwner;
  /** Paused because our own socket does not drain (the client does not read). */
  private selfPaused = false;
  /** Subscribers this publisher is waiting for. */
  private waitingFor = 0;
  private streamPaused = false;
  /** Publishers waiting for this subscriber; null when none. */
  private waiters: FlowControl[] | null = null;
  private waitTimer: NodeJS.Timeout | null = null;
  /** Set when this subscriber did not catch up in time; cleared once it has. */
  stuck = false;
  /** Over its message or byte rate: not read until the timer ends. */
  private rateTimer: NodeJS.Timeout | null = null;

  constructor(owner: FlowOwner) {
    this.owner = owner;
  }

  /** True while this connection is not being read. */
  get paused(): boolean {
    return this.streamPaused;
  }

  get throttled(): boolean {
    return this.waitingFor > 0;
  }

  /**
   * Not read for a reason of ours that ends by itself: waiting for subscribers (at most
   * THROTTLE_WAIT_MS_MAX) or over a rate limit. Not when our socket to it is full: a client
   * that reads nothing may be gone.
   */
  get heldByUs(): boolean {
    return this.waitingFor > 0 || this.rateTimer !== null;
  }

  /** Our socket holds too much unsent data: stop reading from this client until it drains. */
  pauseSelf(): void {
    this.selfPaused = true;
    this.update();
  }

  resumeSelf(): void {
    this.selfPaused = false;
    this.update();
  }

  /** Over its rate limit: stop reading this client for `ms` (TCP then holds it back). */
  pauseFor(ms: number): void {
    if (this.rateTimer !== null) return; // the bucket's debt already counts what came since
    this.rateTimer = setTimeout(onRateTimeout, ms, this);
    this.rateTimer.unref();
    this.update();
  }

  /** Called by the rate timer (see onRateTimeout below). */
  rateWaitEnded(): void {
    this.rateTimer = null;
    this.update();
  }

  /** Subscriber side: makes `publisher` wait until this subscriber catches up. */
  addWaiter(publisher: FlowControl): void {
    if (publisher === this || this.stuck) return;
    if (this.waiters === null) {
      this.waiters = [];
      this.armWaitTimer();
    }
    if (this.waiters.includes(publisher)) return;
    this.waiters.push(publisher);
    publisher.waitingFor++;
    publisher.update();
  }

  /** Subscriber side: gone, or given up on: every waiting publisher is read again. */
  releaseWaiters(): void {
    this.release(Number.POSITIVE_INFINITY);
  }

  /**
   * Subscriber side: it has room again. Releases the longest-waiting publishers first and only
   * `count` of them, so that their combined burst does not overflow the queue at once.
   */
  release(count: number): void {
    this.stuck = false;
    const waiters = this.waiters;
    if (waiters === null) return;
    const released = waiters.splice(0, count);
    for (const publisher of released) {
      publisher.waitingFor--;
      assert(publisher.waitingFor >= 0, "flow control wait count");
      publisher.update();
    }
    if (this.waitTimer !== null) clearTimeout(this.waitTimer);
    this.waitTimer = null;
    if (waiters.length === 0) this.waiters = null;
    else this.armWaitTimer(); // progress was made: the stuck clock starts again
  }

  private armWaitTimer(): void {
    this.waitTimer = setTimeout(onWaitTimeout, THROTTLE_WAIT_MS_MAX, this);
    this.waitTimer.unref();
  }

  get hasWaiters(): boolean {
    return this.waiters !== null;
  }

  /** Called by the wait timer (see onWaitTimeout below). */
  waitTimedOut(): void {
    this.waitTimer = null;
    this.releaseWaiters();
    this.stuck = true;
    this.owner.onStuck();
  }

  private update(): void {
    const pause = this.selfPaused || this.waitingFor > 0 || this.rateTimer !== null;
    if (pause === this.streamPaused) return;
    this.streamPaused = pause;
    if (pause) this.owner.pauseReading();
    else this.owner.resumeReading();
  }
}

function onRateTimeout(flow: FlowControl): void {
  flow.rateWaitEnded();
}

function onWaitTimeout(flow: FlowControl): void {
  flow.waitTimedOut();
}
