/**
 * mqtt.js helpers for integration tests: connecting with test-friendly options, collecting
 * received messages with bounded waits, and closing every client a test opened.
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import type { RawClient } from "./raw-client.ts";

/** Every wait in a test is bounded by this unless the test says otherwise. */
export const WAIT_TIMEOUT_MS = 5000;

let sequence = 0;

/** A client id / topic segment unique within this test process (and across parallel files). */
export function uniqueName(prefix: string): string {
  sequence++;
  return `${prefix}-${process.pid}-${sequence}`;
}

/** Connects with no automatic reconnect and a bounded connect timeout. */
export function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const merged: IClientOptions = {
    reconnectPeriod: 0,
    connectTimeout: WAIT_TIMEOUT_MS,
    clientId: options.clientId ?? uniqueName("mqttjs"),
    ...options,
  };
  // Without retries, a socket the server closes before CONNACK must reject: mqtt.js otherwise
  // leaves the promise pending forever when reconnecting is off.
  return mqtt.connectAsync(url, merged, merged.reconnectPeriod !== 0);
}

/** Rejects with a clear message if `promise` does not settle within `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** Collects the messages an mqtt.js client receives, in order. */
export class Inbox {
  readonly messages: Received[] = [];
  /** Called after each message; see waitUntil(). */
  readonly listeners = new Set<() => void>();

  constructor(client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      for (const wake of [...this.listeners]) wake();
    });
  }

  /** Payloads as strings, in arrival order (optionally of one topic only). */
  payloads(topic?: string): string[] {
    return this.messages
      .filter((m) => topic === undefined || m.topic === topic)
      .map((m) => m.payload.toString());
  }

  /**
   * Waits until at least `count` received messages satisfy `match` and returns those messages.
   * Fails after `timeoutMs` saying how many had arrived.
   */
  async waitFor(
    count: number,
    match: (m: Received) => boolean = () => true,
    timeoutMs = WAIT_TIMEOUT_MS,
  ): Promise<Received[]> {
    await waitUntil(
      [this],
      () => this.messages.filter(match).length >= count,
      timeoutMs,
      () =>
        `expected ${count} matching messages, got ${this.messages.filter(match).length} ` +
        `(all received: ${this.messages
          .slice(0, 20)
          .map((m) => `${m.topic}:${m.payload.length}B`)
          .join(", ")})`,
    );
    return this.messages.filter(match);
  }

  /** Waits for the first message on `topic`. */
  async waitForTopic(topic: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<Received> {
    const [first] = await this.waitFor(1, (m) => m.topic === topic, timeoutMs);
    return first;
  }
}

/**
 * Resolves once `condition()` holds, re-checking it after each message any of `inboxes` receives;
 * rejects with `explain()` after `timeoutMs`. Leaves no timer or listener behind.
 */
export function waitUntil(
  inboxes: Inbox[],
  condition: () => boolean,
  timeoutMs: number,
  explain: () => string,
): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      for (const inbox of inboxes) inbox.listeners.delete(check);
      if (error === null) resolve();
      else reject(error);
    };
    const check = () => {
      if (condition()) finish(null);
    };
    const timer = setTimeout(
      () => finish(new Error(`timed out after ${timeoutMs} ms: ${explain()}`)),
      timeoutMs,
    );
    for (const inbox of inboxes) inbox.listeners.add(check);
  });
}

/** Remembers the clients a test opens and closes them all, whatever happened. */
export class ClientTracker {
  private mqttClients: MqttClient[] = [];
  private rawClients: RawClient[] = [];

  mqtt(client: MqttClient): MqttClient {
    this.mqttClients.push(client);
    return client;
  }

  raw<T extends { client: RawClient }>(connected: T): T;
  raw(client: RawClient): RawClient;
  raw(value: RawClient | { client: RawClient }): RawClient | { client: RawClient } {
    this.rawClients.push("client" in value ? value.client : value);
    return value;
  }

  async closeAll(): Promise<void> {
    const mqttClients = this.mqttClients;
    const rawClients = this.rawClients;
    this.mqttClients = [];
    this.rawClients = [];
    for (const raw of rawClients) raw.destroy();
    await Promise.all(
      mqttClients.map((c) =>
        withTimeout(c.endAsync(true), WAIT_TIMEOUT_MS, "mqtt.js client end").catch(() => undefined),
      ),
    );
  }
}
