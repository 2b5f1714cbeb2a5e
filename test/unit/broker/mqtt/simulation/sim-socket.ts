/**
 * An in-memory byte stream between one simulated client and the broker: the broker holds it as
 * the Duplex a TCP socket would be (MqttConnection reads 'data', writes, ends, destroys); the
 * client side pushes bytes in and is told, through its SocketPeer, what the broker wrote.
 *
 * Nothing here is asynchronous by itself: bytes from the broker are handed to the peer at
 * once (the peer queues them and reads them when the simulation says so), bytes to the broker
 * are pushed into the readable side, which Node emits as 'data' (synchronously while the
 * broker reads, buffered while it has paused the stream).
 */
import assert from "node:assert/strict";
import { Duplex } from "node:stream";

/** Bytes moved by every SimSocket in the process, both ways: tells a quiet network. */
export const traffic = { bytes: 0 };

/** The client end of a SimSocket. */
export interface SocketPeer {
  /** Bytes the broker wrote (a copy: the broker may share its buffers between clients). */
  onServerBytes(socket: SimSocket, chunk: Buffer): void;
  /** The broker ended or destroyed its side: no more bytes will come. */
  onServerEnd(socket: SimSocket): void;
}

export class SimSocket extends Duplex {
  readonly peer: SocketPeer;
  /** Name for traces: client id and connection number. */
  readonly label: string;
  /** The broker ended (FIN) or destroyed its side. */
  serverEnded = false;
  /** The client ended its side (FIN) or destroyed the socket. */
  clientEnded = false;
  bytesToServer = 0;
  bytesFromServer = 0;

  constructor(peer: SocketPeer, label: string) {
    super({ allowHalfOpen: true });
    this.peer = peer;
    this.label = label;
  }

  override _read(): void {
    // Bytes are pushed by the client side (send); nothing to fetch.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    assert.ok(Buffer.isBuffer(chunk), "the broker writes Buffers");
    assert.ok(!this.serverEnded, "no write after the broker's end");
    this.bytesFromServer += chunk.length;
    traffic.bytes += chunk.length;
    this.peer.onServerBytes(this, Buffer.from(chunk));
    callback();
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
