/**
 * Drives one worker's publishers. Unpaced publishers (--rate 0) run from a ready queue drained
 * once per event-loop turn (setImmediate), so socket reads and acks are handled between batches;
 * a publisher leaves the queue when its window is full or its socket is, and an ack or 'drain'
 * puts it back. Paced publishers are walked on a timer. Nothing spins: with no publisher able to
 * send, the loop sleeps.
 */
import { assert } from "../errors.ts";
import { startOffsetMs, tickIntervalMs } from "./pacing.ts";
import type { Publisher, PublishLoop } from "./publisher.ts";

export class PublishScheduler implements PublishLoop {
  private readonly publishers: Publisher[] = [];
  private readonly ratePerSecond: number;
  private readonly allDone: () => void;
  private queue: Publisher[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private running = false;
  private doneCount = 0;
  private reportedDone = false;

  constructor(ratePerSecond: number, allDone: () => void) {
    assert(ratePerSecond >= 0, `rate ${ratePerSecond}`);
    this.ratePerSecond = ratePerSecond;
    this.allDone = allDone;
  }

  add(publisher: Publisher): void {
    assert(!this.running, "publishers are added before the loop starts");
    this.publishers.push(publisher);
  }

  start(): void {
    assert(!this.running, "publish loop started twice");
    this.running = true;
    const startMs = performance.now();
    const count = this.publishers.length;
    const rate = this.ratePerSecond;
    for (let i = 0; i < count; i++) {
      this.publishers[i].begin(startMs + (rate > 0 ? startOffsetMs(i, count, rate) : 0));
    }
    if (rate > 0) this.tickTimer = setInterval(() => this.tick(), tickIntervalMs(rate));
    else for (const publisher of this.publishers) this.wake(publisher);
    this.checkAllDone();
  }

  stop(): void {
    this.running = false;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.tickTimer = null;
    this.immediate = null;
    this.queue = [];
    for (const publisher of this.publishers) publisher.stop();
  }

  wake(publisher: Publisher): void {
    if (!this.running || publisher.queued) return;
    publisher.queued = true;
    this.queue.push(publisher);
    this.immediate ??= setImmediate(() => this.runQueue());
  }

  done(publisher: Publisher): void {
    assert(publisher.isDone, "done() for a publisher that is not done");
    this.doneCount++;
    assert(this.doneCount <= this.publishers.length, "more publishers done than exist");
    this.checkAllDone();
  }

  private checkAllDone(): void {
    if (!this.running || this.reportedDone || this.doneCount < this.publishers.length) return;
    this.reportedDone = true;
    this.allDone();
  }

  private runQueue(): void {
    this.immediate = null;
    const ready = this.queue;
    this.queue = [];
    const nowMs = performance.now();
    const micros = (performance.timeOrigin + nowMs) * 1000;
    for (const publisher of ready) {
      publisher.queued = false;
      if (publisher.pump(nowMs, micros)) this.wake(publisher);
    }
  }

  private tick(): void {
    const nowMs = performance.now();
    const micros = (performance.timeOrigin + nowMs) * 1000;
    for (const publisher of this.publishers) publisher.pump(nowMs, micros);
  }
}
