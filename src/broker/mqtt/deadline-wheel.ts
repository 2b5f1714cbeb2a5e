import { assert } from "../../errors.ts";

/** Wheel resolution: a deadline fires at most about two ticks late, never early. */
export const WHEEL_TICK_MS = 100;
/** Slots in the wheel; a deadline further out is revisited once per turn until it is due. */
const SLOT_COUNT = 512;
const SLOT_MASK = SLOT_COUNT - 1;
assert((SLOT_COUNT & SLOT_MASK) === 0, "slot count is a power of two");

/**
 * Something with a deadline in the wheel. The links live in the entry itself, so scheduling
 * allocates nothing and an entry costs four fields instead of a Timeout and its closure.
 */
export interface WheelEntry {
  /** Tick at or after which onDeadline runs; -1 while not scheduled. */
  wheelDueTick: number;
  wheelPrev: WheelEntry | null;
  wheelNext: WheelEntry | null;
  /** Called once the deadline has passed; the entry is out of the wheel by then. */
  onDeadline(nowMs: number): void;
}

// Ticks count from here, so that they stay small integers (V8 Smis, stored unboxed) for
// years; milliseconds since 1970 would each need a heap number per field.
const EPOCH_MS = Date.now();

/** The current tick: milliseconds since EPOCH_MS in whole ticks, rounded down. */
export function currentTick(nowMs: number = Date.now()): number {
  return Math.floor((nowMs - EPOCH_MS) / WHEEL_TICK_MS);
}

/**
 * A hashed timing wheel (Varghese and Lauck) for the deadlines of many connections (connect
 * timeout, keep alive): one interval timer for all of them, running only while some entry is
 * scheduled, instead of one Node.js timer per connection.
 */
export class DeadlineWheel {
  private readonly slots: Array<WheelEntry | null> = new Array(SLOT_COUNT).fill(null);
  private size = 0;
  /** The last tick whose slot was processed. */
  private doneTick = currentTick();
  private timer: NodeJS.Timeout | null = null;
  private readonly tickBound = () => this.tick();

  get scheduledCount(): number {
    return this.size;
  }

  /** (Re)schedules `entry` for the first tick that starts at or after `dueMs`. */
  schedule(entry: WheelEntry, dueMs: number): void {
    this.scheduleTick(entry, Math.ceil((dueMs - EPOCH_MS) / WHEEL_TICK_MS));
  }

  /** (Re)schedules `entry` for the tick `dueTick`. */
  scheduleTick(entry: WheelEntry, dueTick: number): void {
    if (entry.wheelDueTick !== -1) this.unlink(entry);
    else if (this.size++ === 0 && this.timer === null) this.start();
    // A tick already processed is not visited again until the wheel has turned: use the next.
    const tick = Math.max(dueTick, this.doneTick + 1);
    entry.wheelDueTick = tick;
    this.link(entry, tick & SLOT_MASK);
  }

  cancel(entry: WheelEntry): void {
    if (entry.wheelDueTick === -1) return;
    this.unlink(entry);
    entry.wheelDueTick = -1;
    if (--this.size === 0) this.stop();
  }

  private start(): void {
    // Nothing was scheduled since doneTick: the ticks in between had nothing to do.
    this.doneTick = Math.max(this.doneTick, currentTick() - 1);
    this.timer = setInterval(this.tickBound, WHEEL_TICK_MS);
    this.timer.unref();
  }

  private link(entry: WheelEntry, slot: number): void {
    const head = this.slots[slot];
    entry.wheelPrev = null;
    entry.wheelNext = head;
    if (head !== null) head.wheelPrev = entry;
    this.slots[slot] = entry;
  }

  private unlink(entry: WheelEntry): void {
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev !== null) prev.wheelNext = next;
    else this.slots[entry.wheelDueTick & SLOT_MASK] = next;
    if (next !== null) next.wheelPrev = prev;
    entry.wheelPrev = null;
    entry.wheelNext = null;
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Processes every tick up to now (several after an event-loop stall). */
  private tick(): void {
    const nowMs = Date.now();
    const nowTick = currentTick(nowMs);
    // After a stall longer than a turn of the wheel, one pass over the slots sees every entry.
    const last = Math.min(nowTick, this.doneTick + SLOT_COUNT);
    const due: WheelEntry[] = [];
    for (let t = this.doneTick + 1; t <= last; t++) this.takeDue(t & SLOT_MASK, nowTick, due);
    // Set before the callbacks run, so that what they schedule lands in a tick still to come.
    this.doneTick = nowTick;
    if (this.size === 0) this.stop();
    for (let i = 0; i < due.length; i++) {
      // An entry that an earlier callback scheduled again is no longer due.
      if (due[i].wheelDueTick === -1) due[i].onDeadline(nowMs);
    }
  }

  /** Moves the entries of `slot` that are due by `nowTick` to `due`. */
  private takeDue(slot: number, nowTick: number, due: WheelEntry[]): void {
    let entry = this.slots[slot];
    this.slots[slot] = null;
    while (entry !== null) {
      const next = entry.wheelNext;
      if (entry.wheelDueTick <= nowTick) {
        entry.wheelPrev = null;
        entry.wheelNext = null;
        entry.wheelDueTick = -1;
        this.size--;
        due.push(entry);
      } else {
        this.link(entry, slot); // due in a later turn of the wheel
      }
      entry = next;
    }
  }
}
