/**
 * A byte-level MQTT client for integration tests: a plain TCP socket, our own encoder to send and
 * our own parser to read the replies. It does nothing on its own (no acks, no pings), so a test
 * sees exactly what the broker sends and decides exactly what the broker receives.
 */
import { connect as netConnect, type Socket } from "node:net";
import {
  type AckPacket,
  type ConnectPacket,
  encode,
  MqttParser,
  type Packet,
  type Properties,
  type ProtocolLevel,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscriptionRequest,
  type UnsubackPacket,
  type Will,
} from "../../src/protocol/mqtt/index.ts";

/** Bounded waits: a broker that never answers fails the test with a clear message. */
export const RAW_TIMEOUT_MS = 3000;

/** Large enough for any test payload; our parser checks sizes against it. */
const PACKET_SIZE_BYTES_MAX = 268_435_460;

/** The packet shape of a type name; the four acks share AckPacket, whose `type` is a union. */
export type PacketOf<T extends Packet["type"]> = T extends AckPacket["type"]
  ? AckPacket
  : Extract<Packet, { type: T }>;

export interface RawConnectOptions {
  clientId: string;
  version?: ProtocolLevel;
  cleanStart?: boolean;
  keepAlive?: number;
  properties?: Properties;
  username?: string;
  password?: Buffer;
  will?: Will;
}

export class RawClient {
  readonly socket: Socket;
  readonly version: ProtocolLevel;
  /** Every packet received, in order (including the ones already taken by next()). */
  readonly received: Packet[] = [];
  /** Received, not yet taken: pending[pendingHead..]. An index, as shift() is O(n) on a flood. */
  private pending: Packet[] = [];
  private pendingHead = 0;
  private waiter: ((packet: Packet) => void) | null = null;
  private readonly parser: MqttParser;
  private readonly closedPromise: Promise<void>;
  private closedFlag = false;
  private parseError: Error | null = null;
  private nextPacketId = 1;

  constructor(socket: Socket, version: ProtocolLevel) {
    this.socket = socket;
    this.version = version;
    this.parser = new MqttParser((packet) => this.onPacket(packet), PACKET_SIZE_BYTES_MAX);
    this.parser.protocolVersion = version;
    socket.on("data", (chunk: Buffer) => {
      const error = this.parser.push(chunk);
      if (error !== null && this.parseError === null) this.parseError = error;
    });
    socket.on("error", () => {
      // A reset shows up as a close; the test asserts on that.
    });
    this.closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this.closedFlag = true;
        resolve();
      });
    });
  }

  /** True once the broker (or we) closed the socket. */
  get closed(): boolean {
    return this.closedFlag;
  }

  private onPacket(packet: Packet): void {
    this.received.push(packet);
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(packet);
      return;
    }
    this.pending.push(packet);
  }

  private takePending(): Packet | undefined {
    if (this.pendingHead === this.pending.length) return undefined;
    const packet = this.pending[this.pendingHead++];
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead >= 1024 && this.pendingHead * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    return packet;
  }

  /** A packet identifier not used before by this client (wraps at 65535). */
  allocatePacketId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet, this.version));
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Packets received and not yet taken by next(). */
  get buffered(): readonly Packet[] {
    return this.pending.slice(this.pendingHead);
  }

  /** The next packet the broker sends; rejects on timeout or when the socket closes first. */
  next(timeoutMs = RAW_TIMEOUT_MS): Promise<Packet> {
    if (this.parseError !== null) return Promise.reject(this.parseError);
    const ready = this.takePending();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closedFlag) return Promise.reject(new Error("socket closed, no packet pending"));
    if (this.waiter !== null) return Promise.reject(new Error("next() is already waiting"));
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.socket.off("close", onClose);
      };
      const timer = setTimeout(() => {
        this.waiter = null;
        done();
        reject(new Error(`no packet from the broker within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = () => {
        this.waiter = null;
        done();
        reject(new Error("socket closed while waiting for a packet"));
      };
      this.socket.once("close", onClose);
      this.waiter = (packet) => {
        done();
        resolve(packet);
      };
    });
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends Packet["type"]>(
    type: T,
    timeoutMs = RAW_TIMEOUT_MS,
  ): Promise<PacketOf<T>> {
    const packet = await this.next(timeoutMs);
    if (packet.type !== type) {
      throw new Error(`expected ${type}, got ${describePacket(packet)}`);
    }
    return packet as PacketOf<T>;
  }

  /** Resolves when the socket closes; rejects after the timeout. */
  waitClosed(timeoutMs = RAW_TIMEOUT_MS): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`socket still open after ${timeoutMs} ms`)),
        timeoutMs,
      );
      void this.closedPromise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Round trip through the broker (PINGREQ -> PINGRESP) and returns every packet that arrived
   * before the PINGRESP. The broker answers on the same socket in order, so anything it wrote to
   * this client before handling the PINGREQ is in the result: a way to assert "nothing more was
   * sent" without sleeping.
   */
  async drain(timeoutMs = RAW_TIMEOUT_MS): Promise<Packet[]> {
    this.send({ type: "pingreq" });
    const before: Packet[] = [];
    for (;;) {
      const packet = await this.next(timeoutMs);
      if (packet.type === "pingresp") return before;
      before.push(packet);
    }
  }

  async subscribe(
    subscriptions: Array<Partial<SubscriptionRequest> & { topicFilter: string }>,
    properties?: Properties,
  ): Promise<SubackPacket> {
    const packetId = this.allocatePacketId();
    this.send({
      type: "subscribe",
      packetId,
      properties,
      subscriptions: subscriptions.map((s) => ({
        topicFilter: s.topicFilter,
        qos: s.qos ?? 0,
        noLocal: s.noLocal ?? false,
        retainAsPublished: s.retainAsPublished ?? false,
        retainHandling: s.retainHandling ?? 0,
      })),
    });
    const suback = await this.expect("suback");
    if (suback.packetId !== packetId)
      throw new Error(`SUBACK for ${suback.packetId}, not ${packetId}`);
    return suback;
  }

  async unsubscribe(topicFilters: string[]): Promise<UnsubackPacket> {
    const packetId = this.allocatePacketId();
    this.send({ type: "unsubscribe", packetId, topicFilters });
    const unsuback = await this.expect("unsuback");
    if (unsuback.packetId !== packetId) {
      throw new Error(`UNSUBACK for ${unsuback.packetId}, not ${packetId}`);
    }
    return unsuback;
  }

  /** Sends a PUBLISH (allocating a packet id for QoS > 0); returns the packet sent. */
  publish(
    topic: string,
    payload: string | Buffer,
    options: {
      qos?: QoS;
      retain?: boolean;
      dup?: boolean;
      packetId?: number;
      properties?: Properties;
    } = {},
  ): PublishPacket {
    const qos = options.qos ?? 0;
    const packet: PublishPacket = {
      type: "publish",
      topic,
      payload: typeof payload === "string" ? Buffer.from(payload) : payload,
      qos,
      retain: options.retain ?? false,
      dup: options.dup ?? false,
      packetId: qos > 0 ? (options.packetId ?? this.allocatePacketId()) : undefined,
      properties: options.properties,
    };
    this.send(packet);
    return packet;
  }

  /** Sends DISCONNECT (normal) and waits for the broker to close the socket. */
  async disconnect(): Promise<void> {
    if (this.closedFlag) return;
    this.send({ type: "disconnect", reasonCode: 0 });
    this.socket.end();
    await this.waitClosed().catch(() => this.socket.destroy());
  }

  /** Drops the connection without DISCONNECT (the broker sees a lost connection). */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens a TCP connection to the broker, without sending anything. */
export function openRaw(port: number, version: ProtocolLevel = 5): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP connect to port ${port} timed out`));
    }, RAW_TIMEOUT_MS);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(new RawClient(socket, version));
    });
  });
}

/** The CONNECT packet connectRaw sends, for tests that send it themselves (refusals, ...). */
export function connectPacket(options: RawConnectOptions): ConnectPacket {
  const version = options.version ?? 5;
  return {
    type: "connect",
    protocolName: version === 3 ? "MQIsdp" : "MQTT",
    protocolVersion: version,
    cleanStart: options.cleanStart ?? true,
    keepAlive: options.keepAlive ?? 60,
    clientId: options.clientId,
    will: options.will,
    username: options.username,
    password: options.password,
    properties: version === 5 ? options.properties : undefined,
  };
}

/** Connects, sends CONNECT and waits for a successful CONNACK. */
export async function connectRaw(
  port: number,
  options: RawConnectOptions,
): Promise<{ client: RawClient; connack: PacketOf<"connack"> }> {
  const version = options.version ?? 5;
  const client = await openRaw(port, version);
  client.send(connectPacket(options));
  try {
    const connack = await client.expect("connack");
    if (connack.reasonCode !== 0)
      throw new Error(`CONNACK refused: 0x${connack.reasonCode.toString(16)}`);
    return { client, connack };
  } catch (error) {
    client.destroy();
    throw error;
  }
}

export function describePacket(packet: Packet): string {
  switch (packet.type) {
    case "publish":
      return `publish(topic=${packet.topic}, qos=${packet.qos}, id=${packet.packetId})`;
    case "disconnect":
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return `${packet.type}(0x${packet.reasonCode.toString(16)})`;
    default:
      return packet.type;
  }
}
