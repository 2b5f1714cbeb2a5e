/**
 * The file operations the log needs, behind an interface so tests can run it on an in-memory
 * file system with injected faults (test/unit/storage/faulty-fs.ts) and the shell stays thin.
 *
 * Every write is positional: the log always knows where its end is, and positional writes never
 * depend on a shared file position. (Segment files are therefore not opened with O_APPEND, under
 * which Linux ignores the position of pwrite.)
 */
import { constants } from "node:fs";
import {
  mkdir,
  type FileHandle as NodeFileHandle,
  open,
  readdir,
  rename,
  rm,
} from "node:fs/promises";
import { assert } from "../../errors.ts";
import { type IoAddon, loadIoAddon } from "../../native/io-addon.ts";

/** An open file; only the file system that opened it may use it. */
export interface FileHandle {
  readonly path: string;
}

/** "create" creates or empties the file; "readwrite" and "read" need it to exist. */
export type OpenMode = "create" | "readwrite" | "read";

export interface FileSystem {
  open(path: string, mode: OpenMode): Promise<FileHandle>;
  /** Reads up to `length` bytes at `position` into buffer[offset..]; fewer only at end of file. */
  read(
    handle: FileHandle,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number>;
  /** Writes all of `buffer` at `position`, or rejects; a rejection may leave part of it written. */
  write(handle: FileHandle, buffer: Buffer, position: number): Promise<void>;
  /** Writes all buffers back to back from `position` with as few system calls as possible. */
  writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void>;
  /**
   * writev, durable when it resolves as after an fsync of those bytes (data, and the metadata
   * needed to read them back), in one operation. Optional: without it the log writes, then
   * fsyncs.
   */
  writevDurable?(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void>;
  fsync(handle: FileHandle): Promise<void>;
  truncate(handle: FileHandle, length: number): Promise<void>;
  size(handle: FileHandle): Promise<number>;
  close(handle: FileHandle): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Renames atomically, replacing `to` if it exists; durable once the directory is synced. */
  rename(from: string, to: string): Promise<void>;
  readdir(directory: string): Promise<string[]>;
  mkdir(directory: string): Promise<void>;
  /** Makes creations and deletions of entries in `directory` durable. */
  syncDirectory(directory: string): Promise<void>;
  /**
   * The operating system's descriptor of an open file, for sending it to a socket without a copy
   * (Kafka fetch answers); -1 once closed. Optional: file systems without one are always copied.
   */
  descriptor?(handle: FileHandle): number;
}

const NODE_FLAGS: Record<OpenMode, string> = { create: "w+", readwrite: "r+", read: "r" };
/** Short writes retried before a write that makes no progress is declared failed. */
const SHORT_WRITE_RETRIES_MAX = 64;

class NodeFile implements FileHandle {
  readonly path: string;
  readonly handle: NodeFileHandle;
  /** A second descriptor opened with O_DSYNC for writevDurable, on first use. */
  durable: NodeFileHandle | null = null;
  constructor(path: string, handle: NodeFileHandle) {
    this.path = path;
    this.handle = handle;
  }
}

/** Writes all buffers from `position`, retrying short writes. */
async function writevAll(
  path: string,
  file: NodeFileHandle,
  buffers: readonly Buffer[],
  position: number,
): Promise<void> {
  let rest = buffers.filter((buffer) => buffer.length > 0);
  for (let attempt = 0; rest.length > 0; attempt++) {
    if (attempt > SHORT_WRITE_RETRIES_MAX) throw new Error(`${path}: write makes no progress`);
    const { bytesWritten } = await file.writev(rest, position);
    position += bytesWritten;
    rest = skipBytes(rest, bytesWritten);
  }
}

function nodeFile(handle: FileHandle): NodeFileHandle {
  assert(handle instanceof NodeFile, "a handle opened by NodeFileSystem");
  return handle.handle;
}

/** Drops the first `bytes` bytes of a buffer list (after a short writev). */
function skipBytes(buffers: readonly Buffer[], bytes: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (bytes >= buffer.length) {
      bytes -= buffer.length;
    } else {
      rest.push(bytes === 0 ? buffer : buffer.subarray(bytes));
      bytes = 0;
    }
  }
  return rest;
}

/**
 * Reads up to this size are first tried from the page cache on the event loop (readCached in
 * src/native/io-addon.ts): a copy of 64 KiB costs it about as much as a hand-off to the
 * thread pool. Larger ones stay on the pool, where the copy runs beside the event loop.
 */
const CACHED_READ_MAX_BYTES = 64 * 1024;

/**
 * Reads served on the event loop between two of its turns, at most, each counted as at least a
 * page. A loop of awaited cached reads never yields (its promises resolve as microtasks), so past
 * this a read goes through the pool, and the loop waits for it like any I/O: other clients are
 * served meanwhile. About 0.1-0.3 ms of reading per turn.
 */
const CACHED_READ_BYTES_PER_TURN = 512 * 1024;
const PAGE_BYTES = 4096;

let cachedBytesThisTurn = 0;
let turnResetScheduled = false;

function resetTurn(): void {
  cachedBytesThisTurn = 0;
  turnResetScheduled = false;
}

/** Whether a read of `length` may still be served on the event loop in this turn (and counts it). */
function takeTurnBudget(length: number): boolean {
  const cost = Math.max(length, PAGE_BYTES);
  if (cachedBytesThisTurn + cost > CACHED_READ_BYTES_PER_TURN) return false;
  cachedBytesThisTurn += cost;
  if (!turnResetScheduled) {
    turnResetScheduled = true;
    setImmediate(resetTurn);
  }
  return true;
}

export type CachedRead = IoAddon["readCached"];

function addonCachedRead(): CachedRead | null {
  const addon = loadIoAddon();
  return "unavailable" in addon ? null : addon.readCached;
}

/** The real file system: node:fs/promises file handles. */
export class NodeFileSystem implements FileSystem {
  readonly #readCached: CachedRead | null;

  /** `readCached`: the addon's by default; null reads through the thread pool only. */
  constructor(options: { readCached?: CachedRead | null } = {}) {
    this.#readCached = options.readCached === undefined ? addonCachedRead() : options.readCached;
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    return new NodeFile(path, await open(path, NODE_FLAGS[mode]));
  }

  descriptor(handle: FileHandle): number {
    return nodeFile(handle).fd;
  }

  async read(
    handle: FileHandle,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    assert(offset >= 0 && offset + length <= buffer.length, "read target inside the buffer");
    let total = 0;
    if (
      this.#readCached !== null &&
      length > 0 &&
      length <= CACHED_READ_MAX_BYTES &&
      takeTurnBudget(length)
    ) {
      const target = buffer.subarray(offset, offset + length);
      const read = this.#readCached(nodeFile(handle).fd, target, position);
      if (read === 0 || read === length) return read;
      // The rest (pages not in the cache, or an error to report) the usual way.
      total = Math.max(read, 0);
    }
    while (total < length) {
      const { bytesRead } = await nodeFile(handle).read(
        buffer,
        offset + total,
        length - total,
        position + total,
      );
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }

  async write(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
    await this.writev(handle, [buffer], position);
  }

  async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    await writevAll(handle.path, nodeFile(handle), buffers, position);
  }

  /**
   * Through an O_DSYNC descriptor of the same file: each pwritev returns once its bytes are
   * durable (as with fdatasync), so a group commit is one trip to the thread pool instead of
   * two. The trip back to the event loop between write and fsync was what a busy broker paid
   * most for: its main thread ran the write's completion late, and the disk waited meanwhile.
   */
  async writevDurable(
    handle: FileHandle,
    buffers: readonly Buffer[],
    position: number,
  ): Promise<void> {
    assert(handle instanceof NodeFile, "a handle opened by NodeFileSystem");
    handle.durable ??= await open(handle.path, constants.O_WRONLY | constants.O_DSYNC);
    await writevAll(handle.path, handle.durable, buffers, position);
  }

  async fsync(handle: FileHandle): Promise<void> {
    await nodeFile(handle).sync();
  }

  async truncate(handle: FileHandle, length: number): Promise<void> {
    await nodeFile(handle).truncate(length);
  }

  async size(handle: FileHandle): Promise<number> {
    return (await nodeFile(handle).stat()).size;
  }

  async close(handle: FileHandle): Promise<void> {
    const durable = handle instanceof NodeFile ? handle.durable : null;
    try {
      await nodeFile(handle).close();
    } finally {
      await durable?.close();
    }
  }

  async unlink(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  async readdir(directory: string): Promise<string[]> {
    return readdir(directory);
  }

  async mkdir(directory: string): Promise<void> {
    await mkdir(directory, { recursive: true });
  }

  async syncDirectory(directory: string): Promise<void> {
    const handle = await open(directory, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
