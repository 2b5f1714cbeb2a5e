/**
 * What the load generator's parts share: the IPC messages exchanged with bench/run.ts, the
 * counters, and raw MQTT 3.1.1 clients on plain TCP sockets built on our own codec (encode,
 * MqttParser). Hot paths write pre-encoded bytes; only QoS 1 packet identifiers are patched.
 */
import { connect, type Socket } from "node:net";
import { encode, encodePublish, MqttParser, type Packet } from "../../src/protocol/mqtt/index.ts";

export const PROTOCOL_VERSION = 4;
export const PAYLOAD_BYTES = 64;
/** A received packet larger than this is a bug in the broker or the generator. */
export const PACKET_BYTES_MAX = 1 << 20;
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** What bench/run.ts passes to the load process (JSON in argv[2]). */
export interface LoadSpec {
  host: string;
  port: number;
  qos: 0 | 1;
  /** Publisher i publishes to `${topicPrefix}/${i}`; the subscriber takes `${topicPrefix}/+`. */
  topicPrefix: string;
  publisherCount: number;
  /** QoS 1: unacknowledged PUBLISH packets each publisher keeps in flight. */
  windowCount: number;
  /** QoS 0: messages sent but not yet received by the subscriber, over all publishers. */
  inFlightMax: number;
  clientIdPrefix: string;
}

export type Command = { cmd: "start" } | { cmd: "mark" } | { cmd: "stop" };

/** The load process's counters, taken when a "mark" or "stop" arrives. */
export interface Snapshot {
  /** PUBLISH packets the subscriber received. */
  receivedCount: number;
  /** PUBLISH packets the publishers handed to their sockets. */
  sentCount: number;
  /** QoS 1: PUBACKs the publishers received. */
  ackedCount: number;
  timeMs: number;
  /** CPU time of the whole load process (user + system). */
  cpuMicros: number;
}

export type Report =
  | { event: "ready" }
  | { event: "mark"; snapshot: Snapshot }
  | { event: "stopped"; snapshot: Snapshot }
  | { event: "error"; message: string };

export function report(message: Report): void {
  process.send?.(message);
}

export function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  report({ event: "error", message });
  process.stderr.write(`load process failed: ${message}\n`);
  process.exit(1);
}

/**
 * Counters shared by the subscriber and the publishers (one process, one thread), and the
 * QoS 0 end-to-end limit: a publisher over it parks until the subscriber catches up to half.
 * Messages a broker drops would hold the limit forever, so a stalled limit is written off.
 */
export class Flow {
  receivedCount = 0;
  sentCount = 0;
  ackedCount = 0;
  /** QoS 0 messages given up on by releaseIfStalled(). */
  writtenOffCount = 0;
  running = false;
  readonly inFlightMax: number;
  private parked: Array<() => void> = [];
  private receivedAtLastCheck = 0;

  constructor(inFlightMax: number) {
    if (!(inFlightMax >= 1)) throw new Error(`inFlightMax ${inFlightMax}`);
    this.inFlightMax = inFlightMax;
  }

  private get inFlightCount(): number {
    return this.sentCount - this.receivedCount - this.writtenOffCount;
  }

  /** True when `count` more messages fit in the end-to-end limit. */
  admits(count: number): boolean {
    return this.inFlightCount + count <= this.inFlightMax;
  }

  /** Runs `resume` once the subscriber has caught up (FIFO, so publishers take turns). */
  park(resume: () => void): void {
    this.parked.push(resume);
  }

  onReceived(count: number): void {
    this.receivedCount += count;
    if (this.parked.length > 0 && this.inFlightCount <= this.inFlightMax / 2) this.release();
  }

  /** Called periodically: publishers parked while nothing arrived since the last call resume. */
  releaseIfStalled(): void {
    const stalled = this.receivedCount === this.receivedAtLastCheck;
    this.receivedAtLastCheck = this.receivedCount;
    if (!stalled || this.parked.length === 0) return;
    this.writtenOffCount += this.inFlightCount;
    this.release();
  }

  private release(): void {
    const ready = this.parked;
    this.parked = [];
    for (const resume of ready) resume();
  }
}

/** One client connection: a socket and a parser whose packet handler can be swapped. */
export class RawClient {
  readonly socket: Socket;
  readonly parser: MqttParser;
  onPacket: (packet: Packet) => void = () => {};
  /** Runs after each chunk is parsed: the place to flush acks batched while parsing it. */
  afterChunk: () => void = () => {};

  constructor(socket: Socket) {
    this.socket = socket;
    this.parser = new MqttParser((packet) => this.onPacket(packet), PACKET_BYTES_MAX);
    socket.on("data", (chunk: Buffer) => {
      const error = this.parser.push(chunk);
      if (error !== null) fail(`parse error from broker: ${error.message}`);
      this.afterChunk();
    });
  }
}

/** Connects, sends CONNECT (clean session, no keep alive) and resolves on CONNACK 0. */
export function openClient(host: string, port: number, clientId: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const client = new RawClient(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no CONNACK for ${clientId} in ${HANDSHAKE_TIMEOUT_MS} ms`));
    }, HANDSHAKE_TIMEOUT_MS);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    client.onPacket = (packet) => {
      clearTimeout(timer);
      if (packet.type !== "connack" || packet.reasonCode !== 0) {
        reject(new Error(`CONNACK expected for ${clientId}, got ${JSON.stringify(packet)}`));
        return;
      }
      client.onPacket = () => {};
      resolve(client);
    };
    socket.write(
      encode(
        {
          type: "connect",
          protocolName: "MQTT",
          protocolVersion: PROTOCOL_VERSION,
          cleanStart: true,
          keepAlive: 0,
          clientId,
        },
        PROTOCOL_VERSION,
      ),
    );
  });
}

/** Subscribes and resolves on a SUBACK granting `qos`. */
export function subscribe(client: RawClient, filter: string, qos: 0 | 1): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no SUBACK in ${HANDSHAKE_TIMEOUT_MS} ms`)),
      HANDSHAKE_TIMEOUT_MS,
    );
    client.onPacket = (packet) => {
      clearTimeout(timer);
      if (packet.type !== "suback" || packet.reasonCodes[0] !== qos) {
        reject(new Error(`SUBACK granting QoS ${qos} expected, got ${JSON.stringify(packet)}`));
        return;
      }
      client.onPacket = () => {};
      resolve();
    };
    const request = { topicFilter: filter, qos, noLocal: false, retainAsPublished: false };
    client.socket.write(
      encode(
        { type: "subscribe", packetId: 1, subscriptions: [{ ...request, retainHandling: 0 }] },
        PROTOCOL_VERSION,
      ),
    );
  });
}

/** The PUBLISH packet every message of one publisher reuses (packet id 1 for QoS 1). */
export function publishTemplate(topic: string, qos: 0 | 1): Buffer {
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  for (let i = 0; i < PAYLOAD_BYTES; i++) payload[i] = 0x41 + (i % 26);
  return encodePublish(
    {
      type: "publish",
      topic,
      payload,
      qos,
      retain: false,
      dup: false,
      packetId: qos > 0 ? 1 : undefined,
    },
    PROTOCOL_VERSION,
  );
}

/** Offset of the packet identifier in a QoS 1 template: fixed header, then the topic. */
export function packetIdOffset(template: Buffer): number {
  let pos = 1;
  while ((template[pos] & 0x80) !== 0) pos++;
  pos++;
  return pos + 2 + template.readUInt16BE(pos);
}
