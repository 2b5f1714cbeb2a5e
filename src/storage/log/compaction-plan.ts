/**
 * Which records a compaction keeps: pure functions over what the cleaner read, so the rules
 * are property-tested apart from any file (test/unit/storage/compaction-plan.test.ts).
 *
 * Kafka's rules: for each key only the record with the highest offset stays; a tombstone (null
 * value) stays until its delete horizon, set to the time of the first cleaning that kept it plus
 * delete_retention_ms and stored in the batch (attribute bit 6, baseTimestamp, as KIP-534);
 * records without a key are dropped (append refuses them in a compacted log). Offsets never
 * change: a batch keeps its baseOffset and lastOffsetDelta even when records go.
 *
 * Our own choices:
 * - A compressed batch is kept whole while any of its records is the latest for its key, and
 *   dropped when none is; it is never recompressed. Its obsolete records therefore stay, so a
 *   key with such a leftover is "pinned": its tombstone is never removed (removing it would
 *   bring the leftover value back for a reader).
 * - The first and last batch of each segment stay (emptied of records if need be), so that a
 *   cleaned segment still starts at its file's base offset and ends where the next segment
 *   starts; recovery tells a segment that lost its tail from one that was cleaned by that.
 * - An idempotent producer's last batch stays (emptied if need be), so its last sequence
 *   number survives for the duplicate check, as Kafka keeps it.
 * - Control batches stay whole.
 */

export interface PlanRecord {
  offset: number;
  /** The key's bytes as a latin1 string (one character per byte); null for no key. */
  key: string | null;
  tombstone: boolean;
}

export interface PlanBatch {
  baseOffset: number;
  compressed: boolean;
  control: boolean;
  /** -1 for a batch without a producer id. */
  producerId: bigint;
  /** Set once a cleaning kept a tombstone of this batch; null otherwise. */
  deleteHorizonMs: number | null;
  /** First or last batch of its segment. */
  boundary: boolean;
  records: readonly PlanRecord[];
}

export type BatchPlan =
  | { kind: "keep" }
  | { kind: "drop" }
  /** Re-encode with only the records at `keep` (ascending) and this delete horizon. */
  | { kind: "rewrite"; keep: number[]; deleteHorizonMs: number | null };

/** What the first pass over the cleanable segments learns, for planning each batch after. */
export interface KeyMap {
  latest: Map<string, number>;
  /** Keys with an obsolete record kept inside a compressed batch: their tombstones stay. */
  pinned: Set<string>;
  /** Base offset of each idempotent producer's last batch. */
  producerLast: Map<bigint, number>;
}

/** Builds the KeyMap from every batch of the cleanable segments, fed in offset order. */
export class KeyMapBuilder {
  readonly #latest = new Map<string, number>();
  readonly #producerLast = new Map<bigint, number>();
  /** Keys and offsets of the compressed batches, to find the pinned keys at the end. */
  readonly #compressed: PlanRecord[][] = [];

  add(batch: PlanBatch): void {
    if (batch.producerId >= 0n) this.#producerLast.set(batch.producerId, batch.baseOffset);
    if (batch.control) return;
    for (const record of batch.records) {
      if (record.key !== null) this.#latest.set(record.key, record.offset);
    }
    if (batch.compressed) this.#compressed.push([...batch.records]);
  }

  finish(): KeyMap {
    const latest = this.#latest;
    const pinned = new Set<string>();
    for (const records of this.#compressed) {
      if (!records.some((r) => isLatest(latest, r))) continue;
      for (const r of records) if (r.key !== null && !isLatest(latest, r)) pinned.add(r.key);
    }
    return { latest, pinned, producerLast: this.#producerLast };
  }
}

function isLatest(latest: ReadonlyMap<string, number>, record: PlanRecord): boolean {
  return record.key !== null && latest.get(record.key) === record.offset;
}

export interface PlanContext {
  keys: KeyMap;
  nowMs: number;
  deleteRetentionMs: number;
}

/** What happens to one batch of the cleanable segments. */
export function planBatch(batch: PlanBatch, context: PlanContext): BatchPlan {
  if (batch.control) return { kind: "keep" };
  const { keys, nowMs } = context;
  const mustStay =
    batch.boundary ||
    (batch.producerId >= 0n && keys.producerLast.get(batch.producerId) === batch.baseOffset);
  if (batch.compressed) {
    if (batch.records.some((r) => isLatest(keys.latest, r))) return { kind: "keep" };
    return mustStay ? { kind: "rewrite", keep: [], deleteHorizonMs: null } : { kind: "drop" };
  }
  const horizon = batch.deleteHorizonMs;
  const expired = horizon !== null && nowMs >= horizon;
  const keep: number[] = [];
  let tombstones = false;
  for (const r of batch.records) {
    if (!isLatest(keys.latest, r)) continue;
    if (r.tombstone && expired && !keys.pinned.has(r.key ?? "")) continue;
    keep.push(r.offset);
    tombstones ||= r.tombstone;
  }
  const newHorizon = tombstones ? (horizon ?? nowMs + context.deleteRetentionMs) : null;
  if (keep.length === batch.records.length && newHorizon === horizon) return { kind: "keep" };
  if (keep.length === 0 && !mustStay) return { kind: "drop" };
  return { kind: "rewrite", keep, deleteHorizonMs: newHorizon };
}

/** The earliest delete horizon among the tombstones a plan keeps, or null: when to clean next. */
export function keptHorizon(batch: PlanBatch, plan: BatchPlan): number | null {
  if (plan.kind === "drop" || batch.compressed) return null;
  const horizon = plan.kind === "rewrite" ? plan.deleteHorizonMs : batch.deleteHorizonMs;
  if (horizon === null) return null;
  const kept = plan.kind === "rewrite" ? new Set(plan.keep) : null;
  const any = batch.records.some((r) => r.tombstone && (kept === null || kept.has(r.offset)));
  return any ? horizon : null;
}

/** Both passes over a whole in-memory log (segments of batches): for tests and small logs. */
export function planSegments(
  segments: readonly (readonly PlanBatch[])[],
  nowMs: number,
  deleteRetentionMs: number,
): BatchPlan[][] {
  const builder = new KeyMapBuilder();
  for (const batches of segments) for (const batch of batches) builder.add(batch);
  const context = { keys: builder.finish(), nowMs, deleteRetentionMs };
  return segments.map((batches) => batches.map((batch) => planBatch(batch, context)));
}

/** Whether a cleaning is due: enough dirty bytes, or a kept tombstone's horizon has passed. */
export function cleaningDue(state: {
  cleanBytes: number;
  dirtyBytes: number;
  minDirtyRatio: number;
  nextHorizonMs: number | null;
  nowMs: number;
}): boolean {
  const total = state.cleanBytes + state.dirtyBytes;
  if (total === 0) return false;
  if (state.nextHorizonMs !== null && state.nowMs >= state.nextHorizonMs) return true;
  return state.dirtyBytes > 0 && state.dirtyBytes / total >= state.minDirtyRatio;
}

/**
 * Consecutive segments merged into one cleaned segment, by their sizes before cleaning (as
 * Kafka groups them): at most `segmentBytes` together and spanning fewer than 2^31 offsets, so
 * the output fits a segment and its relative offsets. Returns the group sizes in order.
 */
export function groupSegments(
  segments: readonly { baseOffset: number; nextOffset: number; sizeBytes: number }[],
  segmentBytes: number,
): number[] {
  const groups: number[] = [];
  let i = 0;
  while (i < segments.length) {
    let j = i + 1;
    let bytes = segments[i].sizeBytes;
    while (
      j < segments.length &&
      bytes + segments[j].sizeBytes <= segmentBytes &&
      segments[j].nextOffset - segments[i].baseOffset <= 2_147_483_647
    ) {
      bytes += segments[j].sizeBytes;
      j++;
    }
    groups.push(j - i);
    i = j;
  }
  return groups;
}
