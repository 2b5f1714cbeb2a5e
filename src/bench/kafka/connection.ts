/**
 * One Kafka connection of the generator: a raw TCP socket, requests encoded with our codec
 * (src/protocol/kafka/), responses matched to requests in order (a Kafka broker answers the
 * requests of one connection in the order they came). Every way the connection fails or ends
 * becomes exactly one event with an error kind (`connect:ECONNREFUSED`, `lost:closed`, ...).
 */
import { connect, type Socket } from "node:net";
import type { ApiKeyValue } from "../../protocol/kafka/api-keys.ts";
import {
  decodeResponseFrame,
  type Encodable,
  encodeRequestFrame,
  type RequestBody,
  type ResponseBody,
} from "../../protocol/kafka/kafka-codec.ts";
import { nowMicros } from "../wire.ts";
import { FrameReader } from "./frames.ts";
import { RESPONSE_BYTES_MAX } from "./limits.ts";

/** Where every connection of this thread reads into (see open()). */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export interface ConnectionEvents {
  connected(latencyMicros: number): void;
  connectFailed(kind: string): void;
  /** The connection ended after it was up, without close() being called. */
  lost(kind: string): void;
}

export const ConnectionState = {
  IDLE: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CLOSED: 3,
} as const;
export type ConnectionStateValue = (typeof ConnectionState)[keyof typeof ConnectionState];

interface Pending {
  correlationId: number;
  /** Decodes the frame and hands the body on; throws on bytes the codec rejects. */
  settle(frame: Buffer): void;
  /** The connection ended before the answer. */
  abandon(): void;
}

export class KafkaConnection {
  state: ConnectionStateValue = ConnectionState.IDLE;
  private socket: Socket | null = null;
  private readonly host: string;
  private readonly port: number;
  private readonly clientId: string;
  private readonly events: ConnectionEvents;
  private readonly pending: Array<Pending | undefined> = [];
  private pendingHead = 0;
  /** A response's bytes are valid only during its callback (see frames.ts). */
  private readonly frames = new FrameReader(RESPONSE_BYTES_MAX);
  /** The frame buffer the socket reads into, or null for READ_BUFFER (see open()). */
  private readTarget: Buffer | null = null;
  private correlationId = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private drainWaiter: (() => void) | null = null;
  /** The socket is corked until the next tick (see write). */
  private corked = false;

  constructor(host: string, port: number, clientId: string, events: ConnectionEvents) {
    this.host = host;
    this.port = port;
    this.clientId = clientId;
    this.events = events;
  }

  /** Requests sent whose answer has not arrived. */
  get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  open(timeoutMs: number): void {
    if (this.state !== ConnectionState.IDLE) return;
    this.state = ConnectionState.CONNECTING;
    const started = nowMicros();
    const socket = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      // Into one buffer per thread instead of a fresh 64 KiB chunk per read: those fed the
      // garbage collector a third of a consumer's busy time. A frame is only valid during its
      // callback anyway (frames.ts), and the callback runs within this one. The rest of a
      // large frame is read straight into its assembly buffer.
      onread: {
        buffer: () => {
          this.readTarget = this.frames.nextReadTarget();
          return this.readTarget ?? READ_BUFFER;
        },
        callback: (bytes: number, buffer: Uint8Array) => {
          if (this.readTarget === null) {
            this.onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          } else if (this.state === ConnectionState.CONNECTED) {
            this.frames.filled(bytes, this.onFrame);
          }
          return true;
        },
      },
    });
    this.socket = socket;
    this.timer = setTimeout(() => this.fail("connect:timeout"), timeoutMs);
    socket.once("connect", () => {
      if (this.state !== ConnectionState.CONNECTING) return;
      this.clearTimer();
      this.state = ConnectionState.CONNECTED;
      this.events.connected(nowMicros() - started);
    });
    socket.on("drain", () => {
      const waiter = this.drainWaiter;
      this.drainWaiter = null;
      waiter?.();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.lastError = error.code ?? error.message;
    });
    socket.on("close", () => this.fail(this.lastError ?? "closed"));
  }

  /** Sends a request whose answer goes to `onResponse` (or `onAbandon` if the connection ends). */
  request<K extends ApiKeyValue>(
    apiKey: K,
    version: number,
    body: Encodable<RequestBody<K>>,
    onResponse: (response: ResponseBody<K>) => void,
    onAbandon: () => void = () => {},
  ): boolean {
    const correlationId = this.nextCorrelationId();
    this.pending.push({
      correlationId,
      settle: (frame) => onResponse(decodeResponseFrame(apiKey, version, frame).body),
      abandon: onAbandon,
    });
    return this.write(encodeRequestFrame(apiKey, version, correlationId, this.clientId, body));
  }

  /** Sends a request the broker does not answer (Produce with acks 0). */
  send<K extends ApiKeyValue>(
    apiKey: K,
    version: number,
    body: Encodable<RequestBody<K>>,
  ): boolean {
    const frame = encodeRequestFrame(
      apiKey,
      version,
      this.nextCorrelationId(),
      this.clientId,
      body,
    );
    return this.write(frame);
  }

  /** Sends what this turn wrote now, not at the next tick. */
  flush(): void {
    this.uncork();
  }

  /** Calls `resume` once the socket's buffer has room again. */
  whenDrained(resume: () => void): void {
    this.drainWaiter = resume;
  }

  close(): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.state = ConnectionState.CLOSED;
    this.clearTimer();
    this.socket?.destroy();
    this.abandonPending();
  }

  private nextCorrelationId(): number {
    this.correlationId = (this.correlationId + 1) & 0x7fffffff;
    return this.correlationId;
  }

  /**
   * Writes into the corked socket; the cork is lifted at the next tick, so the requests one turn
   * sends (a producer refilling its window from several answers) leave in one writev. Each
   * socket write is a syscall that also wakes the broker, which costs most on a loaded machine.
   */
  private write(chunks: readonly Buffer[]): boolean {
    const socket = this.socket;
    if (socket === null || this.state !== ConnectionState.CONNECTED) return false;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork);
    }
    let room = true;
    for (const chunk of chunks) room = socket.write(chunk);
    // No room: the caller waits for 'drain', which needs the bytes on their way.
    if (!room) this.uncork();
    return room;
  }

  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket?.uncork();
  };

  private onData(chunk: Buffer): void {
    if (this.state !== ConnectionState.CONNECTED) return;
    const outcome = this.frames.push(chunk, this.onFrame);
    if (outcome !== "ok") this.fail(`protocol response of ${outcome.badSizeBytes} bytes`);
  }

  /** Settles the oldest request; false once the connection has failed. */
  private readonly onFrame = (frame: Buffer): boolean => {
    const expected = this.pending[this.pendingHead];
    const correlationId = frame.readInt32BE(0);
    if (expected === undefined || expected.correlationId !== correlationId) {
      this.fail(`protocol unexpected correlation id ${correlationId}`);
      return false;
    }
    this.pending[this.pendingHead++] = undefined;
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
    try {
      expected.settle(frame);
    } catch (error) {
      this.fail(`protocol ${error instanceof Error ? error.message : String(error)}`);
    }
    return this.state === ConnectionState.CONNECTED;
  };

  private abandonPending(): void {
    const left = this.pending.splice(this.pendingHead);
    this.pending.length = 0;
    this.pendingHead = 0;
    for (const entry of left) entry?.abandon();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private fail(reason: string): void {
    const was = this.state;
    if (was === ConnectionState.CLOSED || was === ConnectionState.IDLE) return;
    this.state = ConnectionState.CLOSED;
    this.clearTimer();
    this.socket?.destroy();
    if (was === ConnectionState.CONNECTING) this.events.connectFailed(`connect:${reason}`);
    else this.events.lost(`lost:${reason}`);
    this.abandonPending();
  }
}
