/**
 * Delayed publish: a PUBLISH to `$delayed/{seconds}/{topic}` is stored (topic.ts, store.ts)
 * and published to `topic` once due, with its QoS, retain flag, payload and properties, as if
 * its client had published it then. The schedule (schedule.ts) is pure; this shell owns the
 * one timer, set for the earliest due message and re-armed as that changes.
 *
 * Acknowledgement: the PUBACK/PUBREC waits for `accept`'s promise, which resolves once the
 * message is stored (durable with mqtt_persistence). A message is taken off the store only
 * after it was published and the broker's own storage of it (the MQTT log, the Kafka bridge)
 * settled, so a crash in between publishes it again after the restart: at least once.
 */
import { join } from "node:path";
import { DELAYED_PUBLISHES_PER_TURN_MAX } from "../../../config/limits.ts";
import type { Config } from "../../../config/schema.ts";
import { assert } from "../../../errors.ts";
import type { Logger } from "../../../log/logger.ts";
import { Message } from "../message.ts";
import type { BrokerStats } from "../stats.ts";
import { type DelayedEntry, DelaySchedule, timerDelayMs } from "./schedule.ts";
import {
  type DelayedRecord,
  type DelayedStore,
  entryOf,
  LmdbDelayedStore,
  MemoryDelayedStore,
} from "./store.ts";
import { type DELAYED_INVALID, type DelayedTopic, parseDelayedTopic } from "./topic.ts";

/** `accept` refused the message: max_messages are waiting (v5 reason code 0x97). */
export const DELAYED_QUOTA_EXCEEDED = "quota";

/** What the publisher needs of the broker (MqttBroker has it). */
export interface DelayedHost {
  readonly stats: BrokerStats;
  /** Routes a message now, as a PUBLISH from its origin would be. */
  publish(message: Message): number;
}

/** Time and the one timer; tests pass a fake one. */
export interface DelayedClock {
  nowMs(): number;
  setTimer(fire: () => void, delayMs: number): unknown;
  clearTimer(timer: unknown): void;
}

const SYSTEM_CLOCK: DelayedClock = {
  nowMs: () => Date.now(),
  setTimer(fire, delayMs) {
    const timer = setTimeout(fire, delayMs);
    timer.unref(); // waiting messages alone never keep the process up
    return timer;
  },
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface DelayedOptions {
  host: DelayedHost;
  store: DelayedStore;
  logger: Logger;
  delaySMax: number;
  messagesMax: number;
  clock?: DelayedClock;
}

export class DelayedPublisher {
  readonly #schedule = new DelaySchedule();
  readonly #host: DelayedHost;
  readonly #store: DelayedStore;
  readonly #logger: Logger;
  readonly #clock: DelayedClock;
  readonly #delaySMax: number;
  readonly #messagesMax: number;
  #nextId: number;
  /** Accepted, still being stored: they count against max_messages. */
  #storing = 0;
  #timer: unknown = null;
  #started = false;
  #closed = false;
  /** Writes and removals under way; close() waits for them. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Connections already told about (logged at info) a malformed `$delayed/` topic. */
  readonly #invalidLogged = new WeakSet<object>();
  /** One log line per stretch of refusals at max_messages, not one per message. */
  #quotaLogged = false;
  readonly #fireBound = () => this.#fire();

  constructor(options: DelayedOptions) {
    assert(options.messagesMax > 0 && options.delaySMax >= 0, "limits are positive");
    this.#host = options.host;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#delaySMax = options.delaySMax;
    this.#messagesMax = options.messagesMax;
    this.#nextId = this.#store.load((record) => this.#schedule.add(entryOf(record)));
    assert(this.#nextId >= 1, "ids start at 1");
  }

  /** The store per configuration: LMDB under data_dir with mqtt_persistence, else memory. */
  static open(host: DelayedHost, config: Config, logger: Logger): DelayedPublisher {
    const persistence = config.mqtt_persistence;
    const store = persistence.enable
      ? LmdbDelayedStore.open(
          join(config.data_dir, "mqtt", "delayed"),
          persistence.fsync_policy === "always",
        )
      : new MemoryDelayedStore();
    const delayed = new DelayedPublisher({
      host,
      store,
      logger,
      delaySMax: config.mqtt_delayed.max_delay_s,
      messagesMax: config.mqtt_delayed.max_messages,
    });
    if (delayed.size > 0) {
      const nowMs = Date.now();
      const overdue = delayed.list().filter((e) => e.dueAtMs <= nowMs).length;
      logger.info({ waiting: delayed.size, overdue }, "delayed messages loaded");
    }
    return delayed;
  }

  /** Messages waiting, those being stored included. */
  get size(): number {
    return this.#schedule.size + this.#storing;
  }

  /** See parseDelayedTopic: null = not a delayed publish. */
  parse(topic: string): DelayedTopic | typeof DELAYED_INVALID | null {
    return parseDelayedTopic(topic, this.#delaySMax);
  }

  /** Counts a malformed `$delayed/` PUBLISH; logs the first of each connection at info. */
  refuseInvalid(connection: object, clientId: string, topic: string): void {
    this.#host.stats.delayedInvalid++;
    const first = !this.#invalidLogged.has(connection);
    if (first) this.#invalidLogged.add(connection);
    const detail = { clientId, topic, maxDelayS: this.#delaySMax };
    this.#logger[first ? "info" : "debug"](detail, "malformed delayed publish dropped");
  }

  /**
   * Takes a message (already authorized for its target topic) to publish after `delayS`.
   * Returns DELAYED_QUOTA_EXCEEDED when max_messages wait, null when it is stored already
   * (memory), else a promise that settles once it is stored (rejects if it could not be).
   */
  accept(
    message: Message,
    delayS: number,
  ): Promise<unknown> | null | typeof DELAYED_QUOTA_EXCEEDED {
    assert(delayS >= 0 && delayS <= this.#delaySMax, "parse() checked the delay");
    if (this.#closed) return this.#track(Promise.reject(new Error("delayed publish closed")));
    if (this.size >= this.#messagesMax) {
      this.#refuseQuota(message);
      return DELAYED_QUOTA_EXCEEDED;
    }
    this.#quotaLogged = false;
    message.compact(); // kept for a while: no view pinning a socket's read buffer
    const nowMs = this.#clock.nowMs();
    const record: DelayedRecord = {
      id: this.#nextId++,
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      properties: message.properties,
      expiresAtMs: message.expiresAtMs,
      publishedAtMs: nowMs,
      dueAtMs: nowMs + delayS * 1000,
      origin: message.origin,
    };
    const write = this.#store.put(record, this.#nextId);
    if (write === null) {
      this.#enqueue(entryOf(record));
      return null;
    }
    // Scheduled only once stored: it is never published before its PUBACK could be sent.
    this.#storing++;
    const stored = write.then(
      () => {
        this.#storing--;
        this.#enqueue(entryOf(record));
      },
      (err: unknown) => {
        this.#storing--;
        // A QoS 1/2 refusal is logged where it is answered (handlers/publish.ts).
        const level = record.qos === 0 ? "warn" : "debug";
        const detail = { err, clientId: record.origin, topic: record.topic };
        this.#logger[level](detail, "delayed message not stored");
        throw err;
      },
    );
    return this.#track(stored);
  }

  #refuseQuota(message: Message): void {
    this.#host.stats.delayedQuotaExceeded++;
    if (this.#quotaLogged) return;
    this.#quotaLogged = true;
    this.#logger.warn(
      { clientId: message.origin, topic: message.topic, maxMessages: this.#messagesMax },
      "delayed publish refused: max_messages are waiting",
    );
  }

  /** Starts publishing: messages already overdue (loaded from disk) go at once, in due order. */
  start(): void {
    this.#started = true;
    this.#arm();
  }

  /** Waiting messages, earliest first. */
  list(): DelayedEntry[] {
    return this.#schedule.inDueOrder();
  }

  /** Deletes a waiting message; false when it is not waiting (published, deleted, unknown). */
  async delete(id: number): Promise<boolean> {
    const entry = this.#schedule.remove(id);
    if (entry === undefined) return false;
    this.#arm();
    const removal = this.#store.remove(id);
    if (removal === null) return true;
    try {
      await this.#track(removal);
    } catch (err) {
      // Still on disk: it stays scheduled, or a restart would publish a "deleted" message.
      this.#enqueue(entry);
      throw err;
    }
    return true;
  }

  /** Stops the timer, waits for writes under way, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.#store.close();
  }

  #enqueue(entry: DelayedEntry): void {
    if (this.#schedule.add(entry) && this.#started) this.#arm();
  }

  /** One timer, for the earliest due message. */
  #arm(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    const nextDueMs = this.#schedule.nextDueMs();
    if (this.#closed || !this.#started || nextDueMs === null) return;
    this.#timer = this.#clock.setTimer(
      this.#fireBound,
      timerDelayMs(nextDueMs, this.#clock.nowMs()),
    );
  }

  #fire(): void {
    this.#timer = null;
    const due = this.#schedule.takeDue(this.#clock.nowMs(), DELAYED_PUBLISHES_PER_TURN_MAX);
    for (const entry of due) this.#publish(entry);
    // More due than one turn takes: the rest go in the next turn, after pending I/O.
    this.#arm();
  }

  #publish(entry: DelayedEntry): void {
    const record = this.#store.get(entry.id);
    if (record === undefined) {
      this.#logger.error(
        { id: entry.id, topic: entry.topic },
        "delayed message missing from its store",
      );
      return;
    }
    assert(record.id === entry.id && record.topic === entry.topic, "store and schedule agree");
    if (record.expiresAtMs !== 0 && this.#clock.nowMs() >= record.expiresAtMs) {
      this.#host.stats.delayedExpired++;
      this.#logger.debug(
        { id: record.id, topic: record.topic },
        "delayed message expired while waiting",
      );
      this.#forget(record, null);
      return;
    }
    const message = new Message(
      record.topic,
      record.payload,
      record.qos,
      record.retain,
      record.properties,
      record.expiresAtMs,
      record.origin,
    );
    this.#host.stats.delayedPublished++;
    this.#host.publish(message);
    this.#forget(record, durableOf(message));
  }

  /** Removes a published (or expired) message from the store once `durable` settled. */
  #forget(record: DelayedRecord, durable: Promise<unknown> | null): void {
    const { id, topic } = record;
    if (durable === null) {
      const removal = this.#store.remove(id);
      if (removal !== null)
        this.#track(removal.catch((err: unknown) => this.#notRemoved(err, id, topic)));
      return;
    }
    const removal = durable
      .catch((err: unknown) => {
        // Delivered to whoever could take it without the log; not retried (no duplicates).
        this.#logger.warn(
          { err, id, topic },
          "delayed message published but not stored in the log",
        );
      })
      .then(() => this.#store.remove(id))
      .catch((err: unknown) => this.#notRemoved(err, id, topic));
    this.#track(removal);
  }

  #notRemoved(err: unknown, id: number, topic: string): void {
    this.#logger.warn(
      { err, id, topic },
      "delayed message published but still stored: a restart publishes it again",
    );
  }

  /** Remembers a promise until it settles; a rejection is the caller's to handle. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    promise.then(
      () => this.#pending.delete(promise),
      () => this.#pending.delete(promise),
    );
    return promise;
  }
}

/** What must settle before a published message may leave the store (as publish.ts waits). */
function durableOf(message: Message): Promise<unknown> | null {
  const { stored, bridged } = message;
  if (bridged === null) return stored;
  return stored === null ? bridged : Promise.all([stored, bridged]);
}
