/**
 * The pure rules of compaction-plan.ts, on random logs: a reader replaying what survives ends
 * with the same key -> value state as one replaying everything (tombstones delete), offsets are
 * kept, obsolete uncompressed records go, expired tombstones go unless pinned, and the batches
 * that must stay do. Each run prints its fast-check seed (FC_SEED replays it).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type BatchPlan,
  cleaningDue,
  groupSegments,
  type PlanBatch,
  planSegments,
} from "../../../src/storage/log/compaction-plan.ts";
import { fcParameters } from "./fc-config.ts";

const NOW = 1_000_000;
const RETENTION = 1000;

interface GenRecord {
  key: string | null;
  tombstone: boolean;
}
interface GenBatch {
  records: GenRecord[];
  gap: number;
  compressed: boolean;
  producer: number;
  horizon: number | null;
}

const recordArb = fc.record({
  key: fc.option(fc.constantFrom("a", "b", "c", "d", "e"), { nil: null, freq: 8 }),
  tombstone: fc.boolean(),
});
const batchArb = fc.record({
  records: fc.array(recordArb, { minLength: 0, maxLength: 5 }),
  gap: fc.nat(3),
  compressed: fc.boolean(),
  producer: fc.integer({ min: -1, max: 2 }),
  horizon: fc.option(fc.integer({ min: NOW - 2000, max: NOW + 2000 }), { nil: null }),
});
const logArb = fc.array(fc.array(batchArb, { minLength: 1, maxLength: 5 }), {
  minLength: 1,
  maxLength: 4,
});

/** Numbers the generated batches with increasing offsets (gaps between them, as compacted). */
function layout(segments: GenBatch[][]): PlanBatch[][] {
  let offset = 0;
  return segments.map((batches) =>
    batches.map((batch, i) => {
      offset += batch.gap;
      const baseOffset = offset;
      const records = batch.records.map((r, k) => ({ ...r, offset: baseOffset + k }));
      offset += Math.max(1, records.length);
      return {
        baseOffset,
        compressed: batch.compressed,
        control: false,
        producerId: BigInt(batch.producer),
        // Only uncompressed batches carry a horizon: the cleaner never rewrites compressed ones.
        deleteHorizonMs: batch.compressed ? null : batch.horizon,
        boundary: i === 0 || i === batches.length - 1,
        records,
      };
    }),
  );
}

function kept(batch: PlanBatch, plan: BatchPlan) {
  if (plan.kind === "drop") return [];
  if (plan.kind === "keep") return batch.records;
  const keep = new Set(plan.keep);
  return batch.records.filter((r) => keep.has(r.offset));
}

/** key -> offset of its live value after replaying records in order (tombstones delete). */
function replay(records: readonly { offset: number; key: string | null; tombstone: boolean }[]) {
  const state = new Map<string, number>();
  for (const r of records) {
    if (r.key === null) continue;
    if (r.tombstone) state.delete(r.key);
    else state.set(r.key, r.offset);
  }
  return state;
}

describe("compaction plan", () => {
  test("replaying what survives gives the state replaying everything gives", () => {
    fc.assert(
      fc.property(logArb, (generated) => {
        const segments = layout(generated);
        const plans = planSegments(segments, NOW, RETENTION);
        const all = segments.flat();
        const planOf = plans.flat();
        const before = all.flatMap((b) => b.records);
        const survivors = all.flatMap((b, i) => kept(b, planOf[i]));
        assert.deepEqual(replay(survivors), replay(before));
        // Offsets are kept, in order, never duplicated.
        const offsets = survivors.map((r) => r.offset);
        assert.deepEqual(
          offsets,
          [...new Set(offsets)].sort((x, y) => x - y),
        );
        const latest = new Map<string, number>();
        for (const r of before) if (r.key !== null) latest.set(r.key, r.offset);
        all.forEach((batch, i) => {
          const plan = planOf[i];
          const left = kept(batch, plan);
          if (!batch.compressed) {
            for (const r of left) assert.equal(latest.get(r.key ?? ""), r.offset, "obsolete kept");
          }
          if (batch.boundary) assert.notEqual(plan.kind, "drop", "boundary batch dropped");
          if (plan.kind === "rewrite" && left.some((r) => r.tombstone)) {
            assert.equal(plan.deleteHorizonMs, batch.deleteHorizonMs ?? NOW + RETENTION);
          }
        });
      }),
      fcParameters(300),
    );
  });

  test("an expired tombstone goes unless an older value of its key stays compressed", () => {
    fc.assert(
      fc.property(logArb, (generated) => {
        const segments = layout(generated);
        const plans = planSegments(segments, NOW, RETENTION).flat();
        const all = segments.flat();
        const compressedLeftovers = new Set<string>();
        all.forEach((batch, i) => {
          if (!batch.compressed) return;
          for (const r of kept(batch, plans[i])) if (r.key !== null) compressedLeftovers.add(r.key);
        });
        all.forEach((batch, i) => {
          if (batch.compressed || batch.deleteHorizonMs === null || batch.deleteHorizonMs > NOW) {
            return;
          }
          for (const r of kept(batch, plans[i])) {
            if (r.tombstone) assert.ok(compressedLeftovers.has(r.key ?? ""), "expired tombstone");
          }
        });
      }),
      fcParameters(300),
    );
  });

  test("planning the result again changes nothing but expired horizons", () => {
    const segments: PlanBatch[][] = [
      [
        batch(
          0,
          [
            ["a", false],
            ["b", false],
          ],
          true,
        ),
        batch(2, [["a", false]], false),
        batch(3, [["b", true]], true),
      ],
    ];
    const first = planSegments(segments, NOW, RETENTION)[0];
    assert.deepEqual(first[0], { kind: "rewrite", keep: [], deleteHorizonMs: null });
    assert.deepEqual(first[1], { kind: "keep" });
    assert.deepEqual(first[2], { kind: "rewrite", keep: [3], deleteHorizonMs: NOW + RETENTION });
    const later = planSegments(
      [[segments[0][0], segments[0][1], { ...segments[0][2], deleteHorizonMs: NOW + RETENTION }]],
      NOW + RETENTION,
      RETENTION,
    )[0];
    assert.deepEqual(later[2], { kind: "rewrite", keep: [], deleteHorizonMs: null });
  });

  test("cleaning is due by dirty ratio or by a passed horizon; groups fit a segment", () => {
    const base = { cleanBytes: 60, dirtyBytes: 40, nowMs: 10, nextHorizonMs: null };
    assert.equal(cleaningDue({ ...base, minDirtyRatio: 0.5 }), false);
    assert.equal(cleaningDue({ ...base, minDirtyRatio: 0.4 }), true);
    assert.equal(cleaningDue({ ...base, minDirtyRatio: 0.5, nextHorizonMs: 10 }), true);
    assert.equal(cleaningDue({ ...base, cleanBytes: 0, dirtyBytes: 0, minDirtyRatio: 0 }), false);
    const sizes = [400, 300, 500, 900, 100, 50].map((sizeBytes, i) => ({
      baseOffset: i * 10,
      nextOffset: i * 10 + 10,
      sizeBytes,
    }));
    assert.deepEqual(groupSegments(sizes, 1000), [2, 1, 2, 1]);
  });
});

function batch(base: number, records: [string, boolean][], boundary: boolean): PlanBatch {
  return {
    baseOffset: base,
    compressed: false,
    control: false,
    producerId: -1n,
    deleteHorizonMs: null,
    boundary,
    records: records.map(([key, tombstone], i) => ({ offset: base + i, key, tombstone })),
  };
}
