/**
 * The will model: when a will a connection carried must, may or must not be published
 * (MQTT 5 sections 3.1.2.5, 3.1.3.2.2 and 3.14.4). The broker's publications of wills are
 * observed where it takes messages in (every will goes through MqttBroker.publish); the
 * clients report how each connection ended and what each later CONNECT found.
 */
import type { Checker } from "./sim-model.ts";

/** Timers fire at exact mocked times; clients see them at wheel-step (100 ms) granularity. */
const WILL_SLACK_MS = 200;

export const WILL_TOPIC_PREFIX = "w/";

/** How the connection that carried a will ended, as the client saw it. */
/** "unknown": a DISCONNECT sent while the broker was not reading (it may never see it). */
export type WillEnd = "normal" | "abnormal" | "unknown";

interface WillRecord {
  readonly payload: string;
  readonly client: string;
  /** Connection number of its client: only later connections can cancel it. */
  readonly connection: number;
  readonly delayMs: number;
  end: WillEnd | null;
  endedAtMs: number;
  /** Session expiry in force when the connection ended. */
  expiryMsAtEnd: number;
  publishedAtMs: number[];
}

/** A later CONNECT of the same client and what its CONNACK said (null = never read). */
interface ConnectRecord {
  readonly client: string;
  readonly connection: number;
  readonly atMs: number;
  readonly cleanStart: boolean;
  present: boolean | null;
}

export class WillTracker {
  private readonly checker: Checker;
  private readonly wills = new Map<string, WillRecord>();
  private readonly connects: ConnectRecord[] = [];
  /** After the final checks: teardown closes everything and publishes what it publishes. */
  private closed = false;
  checkedCount = 0;

  constructor(checker: Checker) {
    this.checker = checker;
  }

  armed(client: string, connection: number, payload: string, delayS: number): void {
    this.wills.set(payload, {
      payload,
      client,
      connection,
      delayMs: delayS * 1000,
      end: null,
      endedAtMs: 0,
      expiryMsAtEnd: 0,
      publishedAtMs: [],
    });
  }

  /** The connection carrying `payload` ended; only the first end counts. */
  ended(payload: string, end: WillEnd, atMs: number, expiryMs: number): void {
    const will = this.wills.get(payload);
    if (will === undefined || will.end !== null) return;
    will.end = end;
    will.endedAtMs = atMs;
    will.expiryMsAtEnd = expiryMs;
  }

  connectSent(
    client: string,
    connection: number,
    atMs: number,
    cleanStart: boolean,
  ): ConnectRecord {
    const record: ConnectRecord = { client, connection, atMs, cleanStart, present: null };
    this.connects.push(record);
    return record;
  }

  /** The broker took a message in: a will if it is on a will topic. */
  onBrokerPublish(topic: string, payload: string, atMs: number): void {
    if (this.closed || !topic.startsWith(WILL_TOPIC_PREFIX)) return;
    const will = this.wills.get(payload);
    if (will === undefined) {
      this.checker.fail(`will "${payload}" published, no connection carried it`);
      return;
    }
    will.publishedAtMs.push(atMs);
    // [MQTT-3.1.2-10] a will is removed once published: never twice.
    this.checker.check(
      will.publishedAtMs.length === 1,
      () => `will "${payload}" published ${will.publishedAtMs.length} times`,
    );
  }

  /** At the end of the run, before teardown: every will's fate against the model. */
  finalCheck(nowMs: number): void {
    for (const will of this.wills.values()) this.checkWill(will, nowMs);
    this.closed = true;
  }

  private checkWill(will: WillRecord, nowMs: number): void {
    const { checker } = this;
    const published = will.publishedAtMs[0];
    const what = `will "${will.payload}" (delay ${will.delayMs} ms)`;
    if (will.end === null) {
      // [MQTT-3.1.2-8] published only when the connection is closed.
      checker.check(published === undefined, () => `${what} published, connection still open`);
      return;
    }
    if (will.end === "unknown") return;
    if (will.end === "normal") {
      // [MQTT-3.1.2-10] a DISCONNECT with 0x00 deletes the will without publishing it.
      checker.check(published === undefined, () => `${what} published after DISCONNECT 0x00`);
      return;
    }
    this.checkedCount++;
    const fate = this.fate(will);
    if (published !== undefined) {
      // [MQTT-3.1.3-9] not before the Will Delay Interval, unless the session ended first.
      checker.check(
        published >= fate.earliestMs - WILL_SLACK_MS,
        () => `${what} published at ${published}, before ${fate.earliestMs}`,
      );
      // [MQTT-3.1.3-9] a new connection to the session within the delay cancels it.
      checker.check(
        fate.cancelledAtMs === null || published <= fate.cancelledAtMs + WILL_SLACK_MS,
        () => `${what} published at ${published}, the session resumed at ${fate.cancelledAtMs}`,
      );
      return;
    }
    // [MQTT-3.1.2-8] a will of a connection not closed normally is published, once due.
    if (fate.unknown || fate.cancelledAtMs !== null) return;
    checker.check(
      nowMs < fate.earliestMs + WILL_SLACK_MS,
      () => `${what} never published (connection lost ${nowMs - will.endedAtMs} ms ago)`,
    );
  }

  /**
   * When the will falls due and whether a later CONNECT cancelled it (a session resumed) or
   * made it due at once (a session ended); `unknown` when a CONNECT near the due time, or one
   * whose CONNACK was never read, leaves it open.
   */
  private fate(will: WillRecord): {
    earliestMs: number;
    cancelledAtMs: number | null;
    unknown: boolean;
  } {
    let earliestMs = will.endedAtMs + Math.min(will.delayMs, will.expiryMsAtEnd);
    const dueMs = earliestMs;
    for (const c of this.connects) {
      if (
        c.client !== will.client ||
        c.connection <= will.connection ||
        c.atMs < will.endedAtMs ||
        c.atMs > dueMs + WILL_SLACK_MS
      ) {
        continue;
      }
      if (c.atMs >= dueMs - WILL_SLACK_MS || c.present === null) {
        return { earliestMs: Math.min(earliestMs, c.atMs), cancelledAtMs: null, unknown: true };
      }
      if (c.cleanStart || !c.present) {
        earliestMs = Math.min(earliestMs, c.atMs); // the session ended: the will goes now
        return { earliestMs, cancelledAtMs: null, unknown: false };
      }
      return { earliestMs, cancelledAtMs: c.atMs, unknown: false };
    }
    return { earliestMs, cancelledAtMs: null, unknown: false };
  }
}
