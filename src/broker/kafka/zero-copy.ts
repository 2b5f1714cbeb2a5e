/**
 * Fetch answers without copying their records. Read into the process and written to the socket,
 * every byte a consumer gets is copied twice by the CPU (page cache to a buffer, buffer to the
 * socket); on our 2-core machines that bounded one consumer to 0.7-0.9 GB/s. Kafka's broker
 * sends records with sendfile(2) instead (Java's transferTo), and so does this one: the kernel
 * hands the page-cache pages to the socket. A loop of 1 MiB answers to a client that copies
 * each one went from 0.9 to 3.1-3.4 GB/s on such a machine.
 *
 * Node has no sendfile for sockets, so it comes from a small N-API addon (native/io, built by
 * `npm install`). Without it (another OS, no compiler) answers are copied as before, and the
 * broker says so once at start.
 *
 * How an answer carries a range of a file: the Fetch handler gets a placeholder Buffer of the
 * range's length (a view of memory that is never written or sent) and puts it in the response
 * like any records; the connection, which alone writes to the socket, sends the file range in
 * its place (answer-leases.ts, connection.ts). The range's descriptor is a dup() of the
 * segment's, taken when the answer is built, so retention or compaction closing the segment
 * before the send does not matter: the bytes of a committed range never change.
 */
import { read } from "node:fs";
import type { Socket } from "node:net";
import { type IoAddon, loadIoAddon } from "../../native/io-addon.ts";

/** Smaller slices are copied: the thread-pool trip and the extra write cost more than a copy. */
export const ZERO_COPY_MIN_BYTES = 64 * 1024;
/** The longest slice sent without a copy (placeholders are views of this much memory). */
const PLACEHOLDER_BYTES_MAX = 16 * 1024 * 1024;
/** Descriptors held by answers not yet sent, at most; past it slices are copied. */
const OPEN_RANGES_MAX = 1024;
/**
 * Bytes sent on the event loop per turn, at most (each send is let through while under it): the
 * rest of a turn's sends go to the thread pool, where they run beside the event loop.
 */
const LOOP_SEND_BYTES_PER_TURN = 1024 * 1024;
/** libuv's thread pool, which the log's writes and reads share (Node's default: 4 threads). */
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;

/** `length` bytes of an open file from `position`, to be sent in a placeholder's stead. */
export interface FileRange {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
}

/** A send the kernel refused; `errno` as in errno(3) (EPIPE: the peer is gone). */
export class SendFileError extends Error {
  readonly errno: number;
  constructor(errno: number) {
    super(`sendfile failed with errno ${errno}`);
    this.errno = errno;
  }
}

/** The addon, or why it cannot be used. */
export function loadZeroCopy(): ZeroCopy | { unavailable: string } {
  const addon = loadIoAddon();
  return "unavailable" in addon ? addon : new ZeroCopy(addon);
}

/** The socket's descriptor, or -1 (closed, or not a plain TCP socket). */
export function socketDescriptor(socket: Socket): number {
  // net.Socket keeps its libuv handle in _handle; a TCP handle exposes its descriptor on Unix.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  return typeof handle?.fd === "number" ? handle.fd : -1;
}

/** Whether everything written to the socket so far is in the kernel (nothing queued). */
export function socketIdle(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle;
  return socket.writableLength === 0 && handle?.writeQueueSize === 0;
}

export class ZeroCopy {
  readonly #addon: IoAddon;
  /** Never written: placeholders are views of it, and are never sent. */
  readonly #placeholderMemory = new ArrayBuffer(PLACEHOLDER_BYTES_MAX);
  #openRanges = 0;
  readonly #loopSendBytesPerTurn: number;
  /** Bytes sent on the event loop this turn (set back to 0 in the check phase). */
  #loopSentThisTurn = 0;
  readonly #newTurn = (): void => {
    this.#loopSentThisTurn = 0;
  };
  /** Sends on the thread pool, at most (see send); the rest wait their turn, in order. */
  readonly #poolSendsMax: number;
  #poolSends = 0;
  readonly #poolTurns: Array<() => void> = [];

  /** The limits are options for tests; the broker uses the defaults. */
  constructor(
    addon: IoAddon,
    {
      loopSendBytesPerTurn = LOOP_SEND_BYTES_PER_TURN,
      poolSendsMax = Math.max(1, Math.floor(THREAD_POOL_SIZE / 2)),
    } = {},
  ) {
    this.#addon = addon;
    this.#loopSendBytesPerTurn = loopSendBytesPerTurn;
    this.#poolSendsMax = poolSendsMax;
  }

  /** Descriptors held by answers not yet sent. */
  get openRangeCount(): number {
    return this.#openRanges;
  }

  /**
   * A placeholder for `length` bytes of the file behind `descriptor` from `position`, and the
   * range it stands for (give it back with close()); null when the bytes should be copied.
   */
  open(
    descriptor: number,
    position: number,
    length: number,
  ): { placeholder: Buffer; range: FileRange } | null {
    if (length < ZERO_COPY_MIN_BYTES || length > PLACEHOLDER_BYTES_MAX) return null;
    if (descriptor < 0 || this.#openRanges >= OPEN_RANGES_MAX) return null;
    let fd: number;
    try {
      fd = this.#addon.dup(descriptor);
    } catch {
      return null;
    }
    this.#openRanges++;
    const placeholder = Buffer.from(this.#placeholderMemory, 0, length);
    return { placeholder, range: { fd, position, length } };
  }

  close(range: FileRange): void {
    this.#openRanges--;
    try {
      this.#addon.close(range.fd);
    } catch {
      // Only EBADF is possible, and the descriptor is ours: nothing to undo.
    }
  }

  /**
   * Writes `head`, then as much of `range` from `skip` on, as the socket takes without waiting
   * (up to its buffer); resolves with the bytes of each sent. The range is only started once the
   * whole head is sent. The caller must have nothing queued on the socket (socketIdle): these
   * bytes go to the kernel directly, after whatever it holds.
   *
   * A range the page cache holds is sent at once, on the event loop, as Node writes to sockets;
   * anything else on the thread pool, so that a read from disk never blocks the event loop.
   * Sending at once saves the trip to the pool and the wake-ups it takes, which on a 2-core
   * machine were a third of a 1 MiB fetch's time: one consumer of one partition read 1.5-1.8
   * GB/s instead of 1.2-1.4 (bench/README.md). Past LOOP_SEND_BYTES_PER_TURN in one turn (many
   * consumers answered at once), sends go to the pool, to run on other cores beside the event
   * loop. A send on the pool may wait for the disk, so at most half the pool's threads send at
   * once: consumers of cold data never hold every thread while the log's writes, which
   * acknowledgements wait for, queue behind them.
   */
  send(
    socket: Socket,
    range: FileRange,
    skip: number,
    head: Buffer,
  ): Promise<{ headSent: number; fileSent: number }> {
    const fd = socketDescriptor(socket);
    if (fd < 0) return Promise.reject(new SendFileError(9 /* EBADF */));
    const { position, length } = range;
    if (this.#loopSentThisTurn < this.#loopSendBytesPerTurn) {
      const now = this.#addon.sendFileCached(fd, head, range.fd, position + skip, length - skip);
      if (now !== null) {
        const [errno, headSent, fileSent] = now;
        if (this.#loopSentThisTurn === 0) setImmediate(this.#newTurn);
        // At least 1, so that the turn is marked even when the socket took nothing.
        this.#loopSentThisTurn += Math.max(1, headSent + fileSent);
        return errno !== 0
          ? Promise.reject(new SendFileError(errno))
          : Promise.resolve({ headSent, fileSent });
      }
    }
    return this.#sendOnPool(socket, range, skip, head);
  }

  async #sendOnPool(
    socket: Socket,
    range: FileRange,
    skip: number,
    head: Buffer,
  ): Promise<{ headSent: number; fileSent: number }> {
    if (this.#poolSends < this.#poolSendsMax) this.#poolSends++;
    else await new Promise<void>((turn) => this.#poolTurns.push(turn));
    try {
      // Taken now, not when queued: the connection may have closed meanwhile.
      const fd = socketDescriptor(socket);
      if (fd < 0) throw new SendFileError(9 /* EBADF */);
      const { promise, resolve, reject } = Promise.withResolvers<{
        headSent: number;
        fileSent: number;
      }>();
      const { position, length } = range;
      this.#addon.sendFile(fd, head, range.fd, position + skip, length - skip, (errno, h, f) => {
        if (errno !== 0) reject(new SendFileError(errno));
        else resolve({ headSent: h, fileSent: f });
      });
      return await promise;
    } finally {
      // The slot goes straight to the next in line, so none can jump the queue.
      const next = this.#poolTurns.shift();
      if (next === undefined) this.#poolSends--;
      else next();
    }
  }

  /** Reads `into.length` bytes of `range` from `skip` on; fewer only where the file ends. */
  async read(range: FileRange, skip: number, into: Buffer): Promise<number> {
    let total = 0;
    while (total < into.length) {
      const at = range.position + skip + total;
      const bytesRead = await new Promise<number>((resolve, reject) => {
        read(range.fd, into, total, into.length - total, at, (err, count) => {
          if (err !== null) reject(err);
          else resolve(count);
        });
      });
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }
}
