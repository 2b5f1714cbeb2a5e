/**
 * Crash safety of compaction on the fault-injecting file system: the process dies at every
 * step of a pass in turn (haltAfter), the machine loses whatever was not durable (crash, with
 * torn tails), and the log is reopened. Each time it must hold the old segments or their cleaned
 * replacement (group by group), so: no record that a reader needs is lost, none appears twice
 * or out of order, nothing that was not written appears, and a fresh pass then ends exactly
 * where the uninterrupted one did. The seed (data and torn tails) is printed: STORAGE_SEED.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import { Prng, testSeed } from "../../helpers/prng.ts";
import { COMPACTED, finalState, keyed, type ReadRecord, records } from "./compaction-suite.ts";
import { FaultyFileSystem } from "./faulty-fs.ts";

const DIRECTORY = "/data/compacted-0";
const NOW = Date.now();
const OPTIONS: Partial<LogOptions> = { ...COMPACTED, delete_retention_ms: 1000 };

/** A log of many updates to few keys, some tombstones, several closed segments. */
async function written(seed: number): Promise<FaultyFileSystem> {
  const prng = new Prng(seed);
  const fs = new FaultyFileSystem({ seed });
  await fs.mkdir(DIRECTORY);
  const log = await PartitionLog.open(DIRECTORY, OPTIONS, { fs, now: () => NOW });
  for (let n = 0; n < 60; n++) {
    const key = prng.below(6);
    await log.append(keyed(key, prng.chance(0.1) ? null : n, NOW - 5000));
  }
  await log.close();
  return fs;
}

async function open(fs: FaultyFileSystem, now = NOW): Promise<PartitionLog> {
  return PartitionLog.open(DIRECTORY, OPTIONS, { fs, now: () => now });
}

const text = (r: ReadRecord) => `${r.offset}:${r.key}=${r.value}`;

describe("compaction crash safety", () => {
  test("a crash at any step recovers to the old or the new segments", async () => {
    const seed = testSeed("compaction crash sweep");
    try {
      const reference = await written(seed);
      const log = await open(reference);
      const before = await records(log);
      const stepsBefore = reference.steps;
      await log.compact({ force: true });
      const steps = reference.steps - stepsBefore;
      const cleaned = await records(log);
      await log.close();
      assert.ok(cleaned.length < before.length, "the pass removed records");
      const beforeSet = new Set(before.map(text));
      const prng = new Prng(seed ^ 0x5eed);
      const seen = { completed: 0, old: 0 };
      for (let halt = 0; halt <= steps; halt++) {
        const fs = await written(seed);
        const victim = await open(fs);
        fs.haltAfter(halt);
        await victim.compact({ force: true }).catch(() => {});
        fs.crash(prng.chance(0.5));
        const recovered = await open(fs);
        seen.completed += recovered.recoveryReport.compactionsCompleted.length;
        try {
          const found = await records(recovered);
          if (found.length === before.length) seen.old++;
          const where = `halt after ${halt} of ${steps} steps`;
          assert.deepEqual(finalState(found), finalState(before), where);
          const offsets = found.map((r) => r.offset);
          assert.deepEqual(
            offsets,
            [...new Set(offsets)].sort((a, b) => a - b),
            where,
          );
          for (const r of found) assert.ok(beforeSet.has(text(r)), `${where}: ${text(r)}`);
          const names = fs.list(DIRECTORY);
          assert.ok(!names.some((n) => n.endsWith(".cleaned") || n.endsWith(".swap")), where);
          await recovered.compact({ force: true });
          assert.deepEqual(await records(recovered), cleaned, `${where}: the next pass`);
        } finally {
          await recovered.close();
        }
      }
      // The sweep went through both sides of the commit point.
      assert.ok(seen.completed > 0 && seen.old > 0, JSON.stringify({ steps, ...seen }));
    } catch (error) {
      throw new Error(`replay with STORAGE_SEED=${seed}`, { cause: error });
    }
  });

  test("tombstones past their horizon are gone after a crash mid-pass and a new pass", async () => {
    const seed = testSeed("compaction tombstones after crash");
    const fs = await written(seed);
    const first = await open(fs);
    await first.compact({ force: true });
    await first.close();
    const later = NOW + 2000;
    const log = await open(fs, later);
    fs.haltAfter(5);
    await log.compact().catch(() => {});
    fs.crash(true);
    const recovered = await open(fs, later);
    try {
      await recovered.compact({ force: true });
      const found = await records(recovered);
      const active = recovered.segments()[recovered.segmentCount - 1].baseOffset;
      assert.ok(
        !found.some((r) => r.value === null && r.offset < active),
        `replay with STORAGE_SEED=${seed}`,
      );
    } finally {
      await recovered.close();
    }
  });
});
