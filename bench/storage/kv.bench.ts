/**
 * Embedded KV engines for metadata and small state (DESIGN.md section 6): lmdb (LMDB) against
 * classic-level (LevelDB), both with durable (synced) commits, on the same workload in one run:
 *
 *   put batched     1e5 keys, ~200-byte values, committed in batches of 1000
 *   put single      one key per durable commit, one after another (a lone session update)
 *   put concurrent  the same, but all issued at once (many clients at the same moment): shows
 *                   whether the engine groups concurrent commits
 *   get             every key once, in random order
 *   delete batched  every key, in batches of 1000
 *
 *   node bench/storage/kv.bench.ts [--keys 100000] [--single 2000]
 *
 * Prints one JSON line per measurement, then a table.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { open as openLmdb } from "lmdb";

const BATCH_KEYS = 1000;
const VALUE_BYTES = 200;

function argument(name: string, fallback: string): number {
  const at = process.argv.indexOf(`--${name}`);
  return Number(at > 0 ? process.argv[at + 1] : fallback);
}

const keyCount = argument("keys", "100000");
const singleCount = argument("single", "2000");

/** The operations measured, the same for both engines. */
interface Engine {
  name: string;
  putBatch(entries: ReadonlyArray<[string, Buffer]>): Promise<void>;
  putOne(key: string, value: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  deleteBatch(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

function lmdbEngine(path: string): Engine {
  // Defaults keep commits synced to disk (no noSync / noMetaSync); no compression, to compare
  // the engines and not the codecs.
  const db = openLmdb<Buffer, string>({ path, encoding: "binary", compression: false });
  return {
    name: "lmdb",
    putBatch: async (entries) => {
      await db.transaction(() => {
        for (const [key, value] of entries) db.put(key, value);
      });
    },
    putOne: async (key, value) => {
      await db.put(key, value);
    },
    get: async (key) => db.get(key),
    deleteBatch: async (keys) => {
      await db.transaction(() => {
        for (const key of keys) db.remove(key);
      });
    },
    close: () => db.close(),
  };
}

function levelEngine(path: string): Engine {
  const db = new ClassicLevel<string, Buffer>(path, { valueEncoding: "buffer" });
  return {
    name: "classic-level",
    putBatch: (entries) =>
      db.batch(
        entries.map(([key, value]) => ({ type: "put", key, value })),
        { sync: true },
      ),
    putOne: (key, value) => db.put(key, value, { sync: true }),
    get: (key) => db.get(key),
    deleteBatch: (keys) =>
      db.batch(
        keys.map((key) => ({ type: "del", key })),
        { sync: true },
      ),
    close: () => db.close(),
  };
}

function keyOf(i: number): string {
  return `session/client-${String(i).padStart(8, "0")}`;
}

async function timed(engine: string, phase: string, ops: number, run: () => Promise<void>) {
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  const opsPerSecond = Math.round(ops / seconds);
  console.log(JSON.stringify({ bench: "storage-kv", engine, phase, ops, seconds, opsPerSecond }));
  return opsPerSecond;
}

async function measure(engine: Engine): Promise<Record<string, number>> {
  const value = Buffer.alloc(VALUE_BYTES, 0x5a);
  const figures: Record<string, number> = {};
  figures["put batched"] = await timed(engine.name, "put batched", keyCount, async () => {
    for (let start = 0; start < keyCount; start += BATCH_KEYS) {
      const entries: Array<[string, Buffer]> = [];
      for (let i = start; i < Math.min(start + BATCH_KEYS, keyCount); i++)
        entries.push([keyOf(i), value]);
      await engine.putBatch(entries);
    }
  });
  figures["put single"] = await timed(engine.name, "put single", singleCount, async () => {
    for (let i = 0; i < singleCount; i++) await engine.putOne(keyOf(keyCount + i), value);
  });
  figures["put concurrent"] = await timed(engine.name, "put concurrent", singleCount, async () => {
    const base = keyCount + singleCount;
    await Promise.all(
      Array.from({ length: singleCount }, (_, i) => engine.putOne(keyOf(base + i), value)),
    );
  });
  const order = Array.from({ length: keyCount }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = (i * 2_654_435_761) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  figures.get = await timed(engine.name, "get", keyCount, async () => {
    for (const i of order) {
      const found = await engine.get(keyOf(i));
      if (found === undefined || found.length !== VALUE_BYTES) throw new Error(`lost ${keyOf(i)}`);
    }
  });
  figures["delete batched"] = await timed(engine.name, "delete batched", keyCount, async () => {
    for (let start = 0; start < keyCount; start += BATCH_KEYS) {
      const keys: string[] = [];
      for (let i = start; i < Math.min(start + BATCH_KEYS, keyCount); i++) keys.push(keyOf(i));
      await engine.deleteBatch(keys);
    }
  });
  return figures;
}

async function main(): Promise<void> {
  const results: Array<[string, Record<string, number>]> = [];
  for (const make of [lmdbEngine, levelEngine]) {
    const directory = await mkdtemp(join(tmpdir(), "rmq-kv-"));
    const engine = make(join(directory, "db"));
    try {
      results.push([engine.name, await measure(engine)]);
    } finally {
      await engine.close();
      await rm(directory, { recursive: true, force: true });
    }
  }
  const phases = Object.keys(results[0][1]);
  console.log(`\n${keyCount} keys, ${VALUE_BYTES}-byte values, durable commits (ops/s)`);
  console.log(`| engine | ${phases.join(" | ")} |`);
  console.log(`| --- | ${phases.map(() => "---:").join(" | ")} |`);
  for (const [name, figures] of results) {
    console.log(`| ${name} | ${phases.map((phase) => figures[phase]).join(" | ")} |`);
  }
}

await main();
