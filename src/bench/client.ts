/**
 * One load-generator connection: a raw TCP (or TLS) socket, our MqttParser on the bytes it
 * reads, the CONNECT/CONNACK handshake with a deadline, and acks gathered while a read is
 * parsed and written together after it. Every way a connection can fail or end ends up in
 * exactly one event with an error kind (`connect:ECONNREFUSED`, `lost:closed`, ...).
 */
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { assert } from "../errors.ts";
import { MqttParser, type Packet, type ProtocolLevel } from "../protocol/mqtt/index.ts";
import { ACKS_PER_WRITE_MAX, RECEIVED_PACKET_BYTES_MAX } from "./limits.ts";
import type { ClientRole } from "./option-specs.ts";
import type { TlsOptions } from "./options.ts";
import { DISCONNECT, nowMicros, PINGREQ, reasonText } from "./wire.ts";

export const ClientState = {
  IDLE: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  /** We are closing it: its end is no error. */
  CLOSING: 3,
  CLOSED: 4,
} as const;
export type ClientStateValue = (typeof ClientState)[keyof typeof ClientState];

/** What the worker learns about a client; each client reports one outcome of its connect. */
export interface ClientEvents {
  connected(client: Client, latencyMicros: number): void;
  connectFailed(client: Client, kind: string): void;
  /** A connected client's connection ended without us closing it. */
  lost(client: Client, kind: string): void;
}

/** The publisher or subscriber behind a connected client. */
export interface PacketHandler {
  onPacket(packet: Packet): void;
}

export interface ConnectTarget {
  host: string;
  port: number;
  tls: TlsOptions | null;
  localAddress: string | null;
  timeoutMs: number;
  /** The keep alive sent in CONNECT; 0 = off. */
  keepAliveSeconds: number;
}

export class Client {
  readonly index: number;
  readonly role: ClientRole;
  readonly clientId: string;
  readonly version: ProtocolLevel;
  state: ClientStateValue = ClientState.IDLE;
  /** When the read being parsed arrived (microseconds since the epoch). */
  chunkMicros = 0;
  handler: PacketHandler | null = null;
  private socket: Socket | null = null;
  private readonly parser: MqttParser;
  private readonly events: ClientEvents;
  /** Acks to write after this read: fixed-header byte << 16 | packet id. */
  private readonly pendingAcks: number[] = [];
  private startedMicros = 0;
  /** PINGREQ interval: half the keep alive in force (ours, or the server's in a v5 CONNACK). */
  private pingIntervalMs = 0;
  private lastPingMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastSocketError: string | null = null;

  constructor(
    index: number,
    role: ClientRole,
    clientId: string,
    version: ProtocolLevel,
    events: ClientEvents,
  ) {
    this.index = index;
    this.role = role;
    this.clientId = clientId;
    this.version = version;
    this.events = events;
    this.parser = new MqttParser((packet) => this.onPacket(packet), RECEIVED_PACKET_BYTES_MAX);
    // We never send CONNECT through this parser, so tell it the level the replies use.
    this.parser.protocolVersion = version;
  }

  /** Opens the socket and sends CONNECT; the outcome arrives as one ClientEvents call. */
  open(target: ConnectTarget, connectBytes: Buffer): void {
    assert(this.state === ClientState.IDLE, `client ${this.clientId} opened twice`);
    this.state = ClientState.CONNECTING;
    this.startedMicros = nowMicros();
    this.pingIntervalMs = (target.keepAliveSeconds * 1000) / 2;
    const socket = openSocket(target);
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.lastSocketError = error.code ?? error.message;
    });
    socket.on("close", () => this.onClose());
    this.timer = setTimeout(() => this.failConnect("connect:timeout"), target.timeoutMs);
    socket.write(connectBytes);
  }

  /** Writes to a connected client; false when the socket's buffer is full (wait for drain). */
  write(bytes: Buffer): boolean {
    const socket = this.socket;
    if (socket === null || this.state !== ClientState.CONNECTED) return false;
    return socket.write(bytes);
  }

  /** Calls `resume` once the socket's buffer has drained (never, if it closes first). */
  onDrain(resume: () => void): void {
    this.socket?.once("drain", resume);
  }

  queueAck(firstByte: number, packetId: number): void {
    if (this.pendingAcks.length >= ACKS_PER_WRITE_MAX) this.flushAcks();
    this.pendingAcks.push((firstByte << 16) | packetId);
  }

  /** Sends PINGREQ when half the keep alive has passed since the last one (or the CONNACK). */
  pingIfDue(nowMs: number): void {
    if (this.state !== ClientState.CONNECTED || this.pingIntervalMs === 0) return;
    if (nowMs - this.lastPingMs < this.pingIntervalMs) return;
    this.lastPingMs = nowMs;
    this.socket?.write(PINGREQ);
  }

  /** Sends DISCONNECT (when connected) and closes; no event follows. */
  close(): void {
    this.clearTimer();
    const socket = this.socket;
    const wasConnected = this.state === ClientState.CONNECTED;
    if (this.state === ClientState.CLOSED) return;
    this.state = ClientState.CLOSING;
    if (socket === null) return;
    if (wasConnected) socket.end(DISCONNECT);
    else socket.destroy();
  }

  /** Closes at once, without DISCONNECT (the end of a run that has to stop now). */
  destroy(): void {
    this.clearTimer();
    if (this.state !== ClientState.CLOSED) this.state = ClientState.CLOSING;
    this.socket?.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunkMicros = nowMicros();
    const error = this.parser.push(chunk);
    if (error !== null) {
      const kind = `protocol ${error.code}`;
      if (this.state === ClientState.CONNECTING) this.failConnect(`connect:${kind}`);
      else this.loseConnection(kind);
      return;
    }
    this.flushAcks();
  }

  private onPacket(packet: Packet): void {
    if (this.state === ClientState.CONNECTING) {
      this.onConnectReply(packet);
      return;
    }
    if (this.state !== ClientState.CONNECTED) return;
    if (packet.type === "disconnect") {
      // The server closes the connection after DISCONNECT [MQTT-3.14.4-1]; so do we, at once.
      this.loseConnection(`disconnect ${reasonText(packet.reasonCode, this.version)}`);
    } else if (packet.type !== "pingresp") {
      this.handler?.onPacket(packet);
    }
  }

  private onConnectReply(packet: Packet): void {
    if (packet.type !== "connack") {
      this.failConnect(`connect:protocol ${packet.type} before CONNACK`);
      return;
    }
    if (packet.reasonCode !== 0) {
      this.failConnect(`connect:connack ${reasonText(packet.reasonCode, this.version, true)}`);
      return;
    }
    this.clearTimer();
    this.state = ClientState.CONNECTED;
    // [MQTT-3.2.2-21] A v5 server may set the keep alive; the client must use its value.
    const serverKeepAlive = packet.properties?.serverKeepAlive;
    if (serverKeepAlive !== undefined) this.pingIntervalMs = (serverKeepAlive * 1000) / 2;
    this.lastPingMs = performance.now();
    this.events.connected(this, this.chunkMicros - this.startedMicros);
  }

  private flushAcks(): void {
    const count = this.pendingAcks.length;
    if (count === 0) return;
    const bytes = Buffer.allocUnsafe(count * 4);
    for (let i = 0; i < count; i++) {
      const ack = this.pendingAcks[i];
      const at = i * 4;
      bytes[at] = ack >>> 16;
      bytes[at + 1] = 2; // remaining length: the packet id alone (reason code 0 implied in v5)
      bytes[at + 2] = (ack >>> 8) & 0xff;
      bytes[at + 3] = ack & 0xff;
    }
    this.pendingAcks.length = 0;
    this.write(bytes);
  }

  private onClose(): void {
    this.clearTimer();
    if (this.state === ClientState.CONNECTING) {
      this.failConnect(`connect:${this.lastSocketError ?? "closed"}`);
    } else if (this.state === ClientState.CONNECTED) {
      this.loseConnection(this.lastSocketError ?? "closed");
    }
    this.state = ClientState.CLOSED;
  }

  /** Ends a pending handshake as failed with `kind` (the connect phase is over). */
  abortConnect(kind: string): void {
    this.failConnect(kind);
  }

  private failConnect(kind: string): void {
    if (this.state !== ClientState.CONNECTING) return;
    this.clearTimer();
    this.state = ClientState.CLOSED;
    this.socket?.destroy();
    this.events.connectFailed(this, kind);
  }

  private loseConnection(reason: string): void {
    if (this.state !== ClientState.CONNECTED) return;
    this.state = ClientState.CLOSED;
    this.socket?.destroy();
    this.events.lost(this, `lost:${reason}`);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function openSocket(target: ConnectTarget): Socket {
  const localAddress = target.localAddress ?? undefined;
  const raw = netConnect({ host: target.host, port: target.port, localAddress, noDelay: true });
  if (target.tls === null) return raw;
  // TLS over our own TCP socket: its errors (ECONNREFUSED, ...) surface on the TLS socket.
  return tlsConnect({
    socket: raw,
    ca: target.tls.caPem ?? undefined,
    rejectUnauthorized: !target.tls.insecure,
    servername: isIP(target.host) === 0 ? target.host : undefined,
  });
}
