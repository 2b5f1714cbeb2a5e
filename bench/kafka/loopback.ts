/**
 * (e) of throughput.bench.ts, the loopback reference: a partition log's segment files sent by
 * another process with sendfile(2) (as the broker sends Fetch answers) to a reader here, over
 * loopback TCP, with no protocol at all: each 4-byte request gets the next 1 MiB of the log, one
 * request in flight, as a Kafka consumer of one partition has. It measures what moving the bytes
 * between two processes costs on this machine, which bounds any consumer.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CHUNK_BYTES = 1024 * 1024;
const SERVER = fileURLToPath(new URL("./loopback-server.ts", import.meta.url));

export interface Chunk {
  file: number;
  position: number;
  length: number;
}

/** The non-empty segment files of the log in `directory`, in order. */
export function segmentFiles(directory: string): Array<{ path: string; size: number }> {
  return readdirSync(directory)
    .filter((name) => name.endsWith(".log"))
    .sort()
    .map((name) => ({ path: join(directory, name), size: statSync(join(directory, name)).size }))
    .filter((file) => file.size > 0);
}

/** The chunks the server sends, in order: 1 MiB at a time, never across a file's end. */
export function chunks(files: ReadonlyArray<{ size: number }>): Chunk[] {
  const out: Chunk[] = [];
  files.forEach(({ size }, file) => {
    for (let position = 0; position < size; position += CHUNK_BYTES) {
      out.push({ file, position, length: Math.min(CHUNK_BYTES, size - position) });
    }
  });
  return out;
}

/** Reads the log in `directory` `passes` times over from a loopback server; bytes and time. */
export async function loopbackRead(
  directory: string,
  passes: number,
): Promise<{ bytes: number; ms: number }> {
  const plan = chunks(segmentFiles(directory));
  const server = spawn(process.execPath, [SERVER, directory], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: server.stdout }).once("line", (line) => resolve(Number(line)));
      server.once("exit", () => reject(new Error("the loopback server exited before listening")));
    });
    const frame = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    const request = Buffer.alloc(4);
    const total = plan.length * passes;
    let next = 0;
    let filled = 0;
    let bytes = 0;
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const socket = connect({
        host: "127.0.0.1",
        port,
        noDelay: true,
        // In place, as the bench consumer reads a large answer.
        onread: {
          buffer: () => frame.subarray(filled),
          callback: (count: number) => {
            filled += count;
            bytes += count;
            if (filled === plan[(next - 1) % plan.length].length) {
              filled = 0;
              if (next === total) {
                socket.destroy();
                resolve();
              } else {
                next++;
                socket.write(request);
              }
            }
            return true;
          },
        },
      });
      socket.on("error", reject);
      socket.once("connect", () => {
        next++;
        socket.write(request);
      });
    });
    return { bytes, ms: performance.now() - started };
  } finally {
    server.kill();
  }
}
