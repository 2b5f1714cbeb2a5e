/**
 * The broker's one native addon (native/io, built by `npm install` with node-gyp): system calls
 * Node does not offer. Everything that uses it has a path without it (another OS, no compiler).
 *
 * - sendfile(2) for Kafka fetch answers (src/broker/kafka/zero-copy.ts): on the event loop when
 *   cachestat(2) finds the range in the page cache, else on libuv's thread pool.
 * - preadv2(2) with RWF_NOWAIT: a read served from the page cache on the event loop
 *   (src/storage/log/file-system.ts). Node's reads always go through libuv's thread pool, and
 *   on small machines the hand-off costs more than the read: the woken pool thread often takes
 *   the event loop's own core, which then waits 50-70 us for it (measured with the scheduler's
 *   trace points during Kafka consume: 1.6 such waits per 1 MiB fetch). A 61-byte batch header
 *   read from the page cache takes about 1 us.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface IoAddon {
  /** A new descriptor of the same open file (close-on-exec). */
  dup(fd: number): number;
  close(fd: number): void;
  /**
   * Writes `head`, then `length` bytes of `fileFd` from `position`, to the socket on the thread
   * pool, without waiting for room in the socket's buffer.
   */
  sendFile(
    socketFd: number,
    head: Buffer,
    fileFd: number,
    position: number,
    length: number,
    done: (errno: number, headSent: number, fileSent: number) => void,
  ): void;
  /**
   * sendFile's work on the calling thread when every page of the range is in the page cache
   * (cachestat(2)) and the socket is non-blocking: `[errno, headSent, fileSent]`, or null
   * (nothing sent) otherwise.
   */
  sendFileCached(
    socketFd: number,
    head: Buffer,
    fileFd: number,
    position: number,
    length: number,
  ): [errno: number, headSent: number, fileSent: number] | null;
  /**
   * Reads into `buffer` from `position` what the page cache holds, without waiting for the disk:
   * the bytes read (fewer than asked when the cache holds only the start, 0 at end of file), or
   * -1 when the first of them is not in the cache or the read fails (read the usual way then).
   */
  readCached(fd: number, buffer: Buffer, position: number): number;
}

const ADDON_PATH = fileURLToPath(
  new URL("../../native/io/build/Release/robustmq_io.node", import.meta.url),
);

let loaded: IoAddon | { unavailable: string } | undefined;

/** The addon, or why it cannot be used (loaded once per process). */
export function loadIoAddon(): IoAddon | { unavailable: string } {
  loaded ??= load();
  return loaded;
}

function load(): IoAddon | { unavailable: string } {
  if (process.platform !== "linux") return { unavailable: "native/io is built on Linux only" };
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as IoAddon;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return { unavailable: `native/io is not built (npm install builds it): ${reason}` };
  }
}
