/**
 * An in-memory byte stream between one simulated client and the broker: the broker holds it as
 * the Duplex a TCP socket would be (MqttConnection reads 'data', writes, ends, destroys); the
 * client side pushes bytes in and is told, through its SocketPeer, what the broker wrote.
 *
 * Nothing here is asynchronous by itself: bytes from the broker are handed to the peer at
 * once (the peer queues them and reads them when the simulation says so), bytes to the broker
 * are pushed into the readable side, which Node emits as 'data' (synchronously while the
 * broker reads, buffered while it has paused the stream).
 *
 * Backpressure: the peer's unread bytes are its receive buffer, bounded by `receiveBytes`.
 * Past that, the write callback is held until the client reads (`consumed`), so what the broker
 * writes meanwhile stays in the Writable (writableLength grows, write() returns false past the
 * high-water mark) and 'drain' comes only once the client has read and the buffer emptied.
 */
import assert from "node:assert/strict";
import { Duplex } from "node:stream";

/** Bytes moved by every SimSocket in the process, both ways: tells a quiet network. */
export const traffic = { bytes: 0 };

/** What the client knew when the broker called write(): its chunk may reach it later. */
export interface WriteStamp {
  readonly atMs: number;
  readonly lastSentMs: number;
  /** The broker was holding this client back for others or a rate (FlowControl.heldByUs). */
  readonly held: boolean;
}

/** The client end of a SimSocket. */
export interface SocketPeer {
  /** Called at each write() of the broker: the stamp goes with that chunk to onServerBytes. */
  stampWrite?(socket: SimSocket): WriteStamp;
  /** Bytes the broker wrote (a copy: the broker may share its buffers between clients). */
  onServerBytes(socket: SimSocket, chunk: Buffer, stamp: WriteStamp | undefined): void;
  /** The broker ended or destroyed its side: no more bytes will come. */
  onServerEnd(socket: SimSocket): void;
  /** The broker called end(): the FIN comes after what it wrote, which may wait. */
  onServerClosing?(socket: SimSocket): void;
}

/** A socket's backpressure: receive buffer of the client, high-water mark of the broker side. */
export interface SocketLimits {
  /** Unread bytes at the client past which the broker's writes are not taken. */
  readonly receiveBytes: number;
  readonly highWaterMark: number;
}

const UNBOUNDED: SocketLimits = { receiveBytes: Number.POSITIVE_INFINITY, highWaterMark: 16_384 };

export class SimSocket extends Duplex {
  readonly peer: SocketPeer;
  private readonly receiveBytes: number;
  /** Stamps of the writes not yet handed to the peer, in order (one chunk per write()). */
  private readonly stamps: WriteStamp[] = [];
  /** Bytes handed to the peer and not yet read by it. */
  private unread = 0;
  /** The callback of the write the receive buffer could not take. */
  private held: (() => void) | null = null;
  /** Most bytes the broker side ever held unsent (writableLength). */
  bufferedMax = 0;
  /** Last simulated time the broker held more unsent than its limit (it stops reading us). */
  overLimitAtMs = Number.NEGATIVE_INFINITY;
  /** Last simulated time the broker was not reading this socket (any flow-control reason). */
  pausedAtMs = Number.NEGATIVE_INFINITY;
  /** Name for traces: client id and connection number. */
  readonly label: string;
  /** The broker ended (FIN) or destroyed its side. */
  serverEnded = false;
  /** The client ended its side (FIN) or destroyed the socket. */
  clientEnded = false;
  bytesToServer = 0;
  bytesFromServer = 0;

  constructor(peer: SocketPeer, label: string, limits: SocketLimits = UNBOUNDED) {
    super({ allowHalfOpen: true, writableHighWaterMark: limits.highWaterMark });
    this.peer = peer;
    this.label = label;
    this.receiveBytes = limits.receiveBytes;
    if (peer.stampWrite !== undefined) {
      const stampWrite = peer.stampWrite.bind(peer);
      const write = this.write;
      // Own property over Writable.prototype.write: stamps each write in call order.
      (this as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
        this.stamps.push(stampWrite(this));
        return (write as (...a: unknown[]) => boolean).apply(this, args);
      };
    }
    if (peer.onServerClosing !== undefined) {
      const onClosing = peer.onServerClosing.bind(peer);
      const end = this.end;
      (this as { end: (...args: unknown[]) => unknown }).end = (...args: unknown[]) => {
        if (!this.writableEnded) onClosing(this);
        return (end as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
  }

  /** True while a write waits for the client to read. */
  get full(): boolean {
    return this.held !== null;
  }

  /** Client side: it read everything it was handed; a held write is taken now. */
  consumed(): void {
    this.unread = 0;
    const held = this.held;
    this.held = null;
    if (held !== null && !this.destroyed) held();
  }

  /** Records the broker side's unsent bytes at `nowMs` against the broker's `limit`. */
  sample(nowMs: number, limit: number): void {
    const length = this.writableLength;
    this.bufferedMax = Math.max(this.bufferedMax, length);
    if (length > limit) this.overLimitAtMs = nowMs;
  }

  override _read(): void {
    // Bytes are pushed by the client side (send); nothing to fetch.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    assert.ok(Buffer.isBuffer(chunk), "the broker writes Buffers");
    assert.ok(!this.serverEnded, "no write after the broker's end");
    this.bytesFromServer += chunk.length;
    traffic.bytes += chunk.length;
    this.peer.onServerBytes(this, Buffer.from(chunk), this.stamps.shift());
    this.unread += chunk.length;
    if (this.unread > this.receiveBytes) this.held = callback;
    else callback();
  }

  override _final(callback: () => void): void {
    this.markServerEnded();
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.markServerEnded();
    callback(error);
  }

  private markServerEnded(): void {
    if (this.serverEnded) return;
    this.serverEnded = true;
    this.peer.onServerEnd(this);
  }

  /** Client side: bytes for the broker, in as many pieces as `cuts` says (packet splits). */
  send(bytes: Buffer, cuts: readonly number[] = []): boolean {
    if (this.clientEnded || this.destroyed) return false;
    let start = 0;
    for (const cut of cuts) {
      assert.ok(cut > start && cut < bytes.length, "cut inside the packet");
      this.push(bytes.subarray(start, cut));
      start = cut;
    }
    this.push(bytes.subarray(start));
    this.bytesToServer += bytes.length;
    traffic.bytes += bytes.length;
    return true;
  }

  /** Client side: FIN (a clean close after DISCONNECT, or the answer to the broker's FIN). */
  clientFin(): void {
    if (this.clientEnded || this.destroyed) return;
    this.clientEnded = true;
    this.push(null);
  }

  /** Client side: the connection breaks (no FIN, no DISCONNECT). */
  clientReset(): void {
    this.clientEnded = true;
    if (!this.destroyed) this.destroy();
  }
}
