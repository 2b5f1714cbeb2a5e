/**
 * `$SYS/brokers/<broker_id>/...`: the broker's own state, published as QoS 0 messages every
 * `mqtt_sys.interval_ms`, and client connect/disconnect events as they happen. Not retained
 * (as in EMQX): they would count against max_retained_messages and crowd the retained list; a
 * new subscriber has the state within one interval. Only subscriptions that name `$SYS`
 * explicitly see them [MQTT-4.7.2-1].
 */
import type { ProtocolLevel } from "../../protocol/mqtt/constants.ts";
import type { MqttBroker } from "./broker.ts";
import { Message } from "./message.ts";

/** What a connect or disconnect event tells subscribers. */
export interface ClientEvent {
  clientId: string;
  username: string | undefined;
  remoteAddress: string;
  protocolVersion: ProtocolLevel;
  /** Disconnect only: why the connection ended. */
  reason?: string;
}

export class SysTopics {
  readonly #broker: MqttBroker;
  readonly #prefix: string;
  readonly #version: string;
  readonly #clientEvents: boolean;
  #timer: NodeJS.Timeout | null = null;

  constructor(broker: MqttBroker, brokerId: number, version: string, clientEvents: boolean) {
    this.#broker = broker;
    this.#prefix = `$SYS/brokers/${brokerId}`;
    this.#version = version;
    this.#clientEvents = clientEvents;
  }

  /** Publishes the state now and every `intervalMs` (0: only client events). */
  start(intervalMs: number): void {
    if (intervalMs === 0) return;
    this.publishState();
    this.#timer = setInterval(() => this.publishState(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Every state topic with the current values. */
  publishState(): void {
    const broker = this.#broker;
    const stats = broker.stats;
    const dropped =
      stats.droppedSlowConsumer +
      stats.droppedQueueFull +
      stats.droppedExpired +
      stats.droppedOffline +
      stats.droppedTooLarge +
      stats.droppedNotAuthorized +
      stats.droppedPayloadFormat +
      stats.droppedSchemaInvalid;
    const values: Array<[string, string | number]> = [
      ["version", this.#version],
      ["uptime", Math.floor((Date.now() - broker.startedAtMs) / 1000)],
      ["clients/connected", broker.connectedClients],
      ["clients/disconnected", broker.sessions.size - broker.connectedClients],
      ["sessions/count", broker.sessions.size],
      ["subscriptions/count", broker.router.subscriptionCount],
      ["retained/count", broker.retained.size],
      ["messages/received", stats.messagesIn],
      ["messages/sent", stats.messagesOut],
      ["messages/dropped", dropped],
      ["bytes/received", stats.bytesIn],
      ["bytes/sent", stats.bytesOut],
    ];
    for (const [name, value] of values) this.#publish(`${this.#prefix}/${name}`, String(value));
  }

  clientConnected(event: ClientEvent): void {
    this.#event("connected", event);
  }

  clientDisconnected(event: ClientEvent): void {
    this.#event("disconnected", event);
  }

  #event(kind: "connected" | "disconnected", event: ClientEvent): void {
    if (!this.#clientEvents) return;
    const level = `clients/${clientIdLevel(event.clientId)}`;
    const payload = JSON.stringify({ ...event, event: kind, timestamp: new Date().toISOString() });
    // After whatever is under way (a connection may close while a message is being routed).
    queueMicrotask(() => this.#publish(`${this.#prefix}/${level}/${kind}`, payload));
  }

  #publish(topic: string, payload: string): void {
    this.#broker.publishSys(new Message(topic, Buffer.from(payload), 0, false, undefined, 0, ""));
  }
}

/**
 * A client id as one topic level: "/", "+" and "#" (which a level cannot hold) and "%" are
 * percent-encoded, so every id has its own level and none lands on `clients/connected`, the
 * count. Ids without them (nearly all) are used as they are.
 */
export function clientIdLevel(clientId: string): string {
  return clientId.replace(/[%/+#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
