/**
 * An in-memory FileSystem with deterministic faults and crashes, for the log's tests.
 *
 * - Each file has volatile bytes (what reads see) and durable bytes (what survives a crash):
 *   fsync copies one to the other. Directory entries are durable once syncDirectory ran.
 * - Faults come from one seeded PRNG (probabilities per operation) or are scheduled
 *   (`failNext("fsync", 2, "ENOSPC")`). A failing write may first write part of its bytes, as
 *   a real disk-full write can.
 * - `crash()` drops everything not durable, optionally keeping a random prefix of each file's
 *   unsynced tail (a torn write); `flipBit` and `setLength` damage files behind the log's back.
 *
 * Every operation completes on a later turn of the event loop, so appends really do queue up
 * behind a write in flight, as they do on a disk.
 */
import { basename, dirname } from "node:path";
import type { FileHandle, FileSystem, OpenMode } from "../../../src/storage/log/file-system.ts";
import { Prng } from "../../helpers/prng.ts";

export type FaultOperation = "open" | "read" | "write" | "fsync" | "truncate" | "unlink" | "rename";

interface MemFile {
  data: Buffer;
  durable: Buffer;
}

interface MemDirectory {
  entries: Map<string, MemFile>;
  durableEntries: Map<string, MemFile>;
}

class MemHandle implements FileHandle {
  readonly path: string;
  readonly file: MemFile;
  readonly writable: boolean;
  closed = false;
  constructor(path: string, file: MemFile, writable: boolean) {
    this.path = path;
    this.file = file;
    this.writable = writable;
  }
}

function fault(operation: string, path: string, code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected ${operation} fault, ${path}`);
  error.code = code;
  return error;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface FaultyFileSystemOptions {
  seed: number;
  /** Probability that each operation of a kind fails; all 0 by default (faults off). */
  faultProbability?: Partial<Record<FaultOperation, number>>;
}

export class FaultyFileSystem implements FileSystem {
  readonly prng: Prng;
  readonly faultProbability: Partial<Record<FaultOperation, number>>;
  readonly #directories = new Map<string, MemDirectory>();
  readonly #scheduled: Array<{ operation: FaultOperation; code: string }> = [];
  /** Operations counted by kind: lets tests check how many fsyncs group commit needed. */
  readonly counts: Record<FaultOperation | "writev" | "syncDirectory", number> = {
    open: 0,
    read: 0,
    write: 0,
    writev: 0,
    fsync: 0,
    truncate: 0,
    unlink: 0,
    rename: 0,
    syncDirectory: 0,
  };
  /**
   * Operations that change files or directories still allowed before the process "dies": the
   * one that exhausts it and every later one fail (see haltAfter). Infinity: never.
   */
  #stepsLeft = Number.POSITIVE_INFINITY;

  constructor(options: FaultyFileSystemOptions) {
    this.prng = new Prng(options.seed);
    this.faultProbability = { ...options.faultProbability };
  }

  /** The next `count` operations of this kind fail with `code`. */
  failNext(operation: FaultOperation, count = 1, code = "EIO"): void {
    for (let i = 0; i < count; i++) this.#scheduled.push({ operation, code });
  }

  /**
   * The process dies after `steps` more changing operations (open for writing, write, fsync,
   * truncate, unlink, rename, directory sync): those after it fail with EIO, as if nothing ran
   * any more. Follow with crash() to see what a restart finds. Infinity lifts it.
   */
  haltAfter(steps: number): void {
    this.#stepsLeft = steps;
  }

  /** Changing operations counted so far (to size a haltAfter sweep). */
  get steps(): number {
    return this.#stepCount;
  }

  #stepCount = 0;

  #step(operation: string, path: string): void {
    this.#stepCount++;
    if (this.#stepsLeft <= 0) throw fault(operation, path, "EIO");
    this.#stepsLeft--;
  }

  clearFaults(): void {
    this.#scheduled.length = 0;
    for (const key of Object.keys(this.faultProbability)) {
      this.faultProbability[key as FaultOperation] = 0;
    }
  }

  #maybeFail(operation: FaultOperation, path: string): void {
    const i = this.#scheduled.findIndex((one) => one.operation === operation);
    if (i >= 0) {
      const [one] = this.#scheduled.splice(i, 1);
      throw fault(operation, path, one.code);
    }
    if (this.prng.chance(this.faultProbability[operation] ?? 0)) {
      throw fault(operation, path, this.prng.chance(0.5) ? "EIO" : "ENOSPC");
    }
  }

  #directory(path: string): MemDirectory {
    const directory = this.#directories.get(path);
    if (directory === undefined) throw fault("lookup", path, "ENOENT");
    return directory;
  }

  #lookup(path: string): MemFile | undefined {
    return this.#directories.get(dirname(path))?.entries.get(basename(path));
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    await tick();
    this.counts.open++;
    if (mode !== "read") this.#step("open", path);
    this.#maybeFail("open", path);
    const directory = this.#directory(dirname(path));
    let file = directory.entries.get(basename(path));
    if (mode === "create" && file !== undefined) {
      file.data = Buffer.alloc(0); // O_TRUNC: same file, emptied; durable once fsynced
    } else if (mode === "create") {
      file = { data: Buffer.alloc(0), durable: Buffer.alloc(0) };
      directory.entries.set(basename(path), file);
    } else if (file === undefined) {
      throw fault("open", path, "ENOENT");
    }
    return new MemHandle(path, file, mode !== "read");
  }

  #file(handle: FileHandle): MemHandle {
    if (!(handle instanceof MemHandle) || handle.closed) throw fault("use", handle.path, "EBADF");
    return handle;
  }

  async read(
    handle: FileHandle,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    await tick();
    const { file } = this.#file(handle);
    this.counts.read++;
    this.#maybeFail("read", handle.path);
    const end = Math.min(file.data.length, position + length);
    if (end <= position) return 0;
    return file.data.copy(buffer, offset, position, end);
  }

  async write(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
    await this.#writeAll(handle, [buffer], position);
    this.counts.write++;
  }

  async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    await this.#writeAll(handle, buffers, position);
    this.counts.writev++;
  }

  async #writeAll(handle: FileHandle, buffers: readonly Buffer[], position: number) {
    await tick();
    const memHandle = this.#file(handle);
    if (!memHandle.writable) throw fault("write", handle.path, "EBADF");
    this.#step("write", handle.path);
    const bytes = Buffer.concat(buffers);
    try {
      this.#maybeFail("write", handle.path);
    } catch (error) {
      // A write that fails part way (disk full) may leave some of its bytes behind.
      this.#place(memHandle.file, bytes.subarray(0, this.prng.below(bytes.length + 1)), position);
      throw error;
    }
    this.#place(memHandle.file, bytes, position);
  }

  #place(file: MemFile, bytes: Buffer, position: number): void {
    const end = position + bytes.length;
    if (end > file.data.length) {
      const grown = Buffer.alloc(end);
      file.data.copy(grown);
      file.data = grown;
    }
    bytes.copy(file.data, position);
  }

  async fsync(handle: FileHandle): Promise<void> {
    await tick();
    const { file } = this.#file(handle);
    this.counts.fsync++;
    this.#step("fsync", handle.path);
    this.#maybeFail("fsync", handle.path);
    file.durable = Buffer.from(file.data);
  }

  async truncate(handle: FileHandle, length: number): Promise<void> {
    await tick();
    const { file } = this.#file(handle);
    this.counts.truncate++;
    this.#step("truncate", handle.path);
    this.#maybeFail("truncate", handle.path);
    const data = Buffer.alloc(length);
    file.data.copy(data, 0, 0, Math.min(length, file.data.length));
    file.data = data;
  }

  async size(handle: FileHandle): Promise<number> {
    await tick();
    return this.#file(handle).file.data.length;
  }

  async close(handle: FileHandle): Promise<void> {
    await tick();
    this.#file(handle).closed = true;
  }

  async unlink(path: string): Promise<void> {
    await tick();
    this.counts.unlink++;
    this.#step("unlink", path);
    this.#maybeFail("unlink", path);
    this.#directories.get(dirname(path))?.entries.delete(basename(path));
  }

  async rename(from: string, to: string): Promise<void> {
    await tick();
    this.counts.rename++;
    this.#step("rename", from);
    this.#maybeFail("rename", from);
    const source = this.#directory(dirname(from));
    const file = source.entries.get(basename(from));
    if (file === undefined) throw fault("rename", from, "ENOENT");
    source.entries.delete(basename(from));
    this.#directory(dirname(to)).entries.set(basename(to), file);
  }

  async readdir(directory: string): Promise<string[]> {
    await tick();
    return [...this.#directory(directory).entries.keys()];
  }

  async mkdir(directory: string): Promise<void> {
    await tick();
    if (!this.#directories.has(directory)) {
      // Created directories are taken as durable: the log fsyncs entries, not its own folder.
      this.#directories.set(directory, { entries: new Map(), durableEntries: new Map() });
    }
  }

  async syncDirectory(directory: string): Promise<void> {
    await tick();
    this.counts.syncDirectory++;
    this.#step("syncDirectory", directory);
    const entry = this.#directory(directory);
    entry.durableEntries = new Map(entry.entries);
  }

  /**
   * Power loss: every file goes back to its durable bytes (with `torn`, plus a random prefix of
   * what was written after them) and every directory to its durable entries.
   */
  crash(torn = false): void {
    this.#stepsLeft = Number.POSITIVE_INFINITY;
    for (const directory of this.#directories.values()) {
      directory.entries = new Map(directory.durableEntries);
      for (const file of directory.entries.values()) {
        let data = Buffer.from(file.durable);
        const extendsDurable =
          file.data.length > data.length && file.data.subarray(0, data.length).equals(data);
        if (torn && extendsDurable) {
          const keep = this.prng.below(file.data.length - data.length + 1);
          data = Buffer.from(file.data.subarray(0, data.length + keep));
        }
        file.data = data;
        file.durable = Buffer.from(data);
      }
    }
  }

  /** Damage behind the log's back: flips one bit of a file (volatile and durable). */
  flipBit(path: string, bit: number): void {
    const file = this.#lookup(path);
    if (file === undefined) throw new Error(`no file ${path}`);
    file.data[bit >> 3] ^= 1 << (bit & 7);
    if (bit >> 3 < file.durable.length) file.durable[bit >> 3] ^= 1 << (bit & 7);
  }

  /** Cuts or zero-extends a file behind the log's back. */
  setLength(path: string, length: number): void {
    const file = this.#lookup(path);
    if (file === undefined) throw new Error(`no file ${path}`);
    const data = Buffer.alloc(length);
    file.data.copy(data, 0, 0, Math.min(length, file.data.length));
    file.data = data;
    file.durable = Buffer.from(data);
  }

  /** Writes a whole file behind the log's back (durably). */
  putFile(path: string, bytes: Buffer): void {
    const directory = this.#directory(dirname(path));
    const file = { data: Buffer.from(bytes), durable: Buffer.from(bytes) };
    directory.entries.set(basename(path), file);
    directory.durableEntries.set(basename(path), file);
  }

  fileBytes(path: string): Buffer | undefined {
    const file = this.#lookup(path);
    return file === undefined ? undefined : Buffer.from(file.data);
  }

  list(directory: string): string[] {
    return [...this.#directory(directory).entries.keys()].sort();
  }
}
