/**
 * The MQTT log's records: the hand-encoded message key (format 1) round-trips, logs written
 * before it (msgpack header) are still read, and a damaged key is refused, never guessed at.
 * Then the appender: one batch per turn, offsets in order, a failed append fails its records.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Message } from "../../../../src/broker/mqtt/message.ts";
import {
  BATCH_BYTES_TARGET,
  LogAppender,
} from "../../../../src/broker/mqtt/persistence/appender.ts";
import { scanLog } from "../../../../src/broker/mqtt/persistence/log-reader.ts";
import {
  decodeMessageKey,
  encodeMessageKey,
  MESSAGE_KEY_FORMAT,
} from "../../../../src/broker/mqtt/persistence/message-key.ts";
import {
  changeRecord,
  decodeEntry,
  type LogEntry,
  legacyMessageBatch,
  type MessageMeta,
  messageBatch,
  messageRecord,
} from "../../../../src/broker/mqtt/persistence/records.ts";
import { ErrorCode, RobustMQError } from "../../../../src/errors.ts";
import {
  buildRecordBatch,
  type LogRecord,
  PartitionLog,
  readRecords,
} from "../../../../src/storage/log/index.ts";
import { Prng } from "../../../helpers/prng.ts";
import { FaultyFileSystem } from "../../storage/faulty-fs.ts";

const FULL_META: MessageMeta = {
  q: 2,
  r: true,
  x: 1_900_000_000_123,
  o: "pub-é",
  i: 65_535,
  s: [
    ["c1", "$share/g/t/#"],
    ["", "$share/h/+"],
  ],
  p: {
    contentType: "text/plain",
    correlationData: Buffer.from([1, 2, 3]),
    userProperties: [
      ["k", "v"],
      ["k", "w"],
    ],
    payloadFormatIndicator: 1,
  },
};

const METAS: MessageMeta[] = [
  { q: 0, r: false, x: 0, o: "" },
  { q: 1, r: false, x: 0, o: "publisher" },
  { q: 1, r: true, x: 1, o: "p" },
  { q: 2, r: false, x: 0, o: "x", i: 1 },
  { q: 1, r: false, x: 0, o: "x", s: [] },
  FULL_META,
];

function records(batch: Buffer): LogRecord[] {
  const result = readRecords(batch, 0);
  assert.equal(result.kind, "ok");
  return result.kind === "ok" ? result.records : [];
}

/** Properties hold views into the key; compare them as plain values. */
function plain(meta: MessageMeta): unknown {
  const p = meta.p;
  if (p?.correlationData === undefined) return meta;
  return { ...meta, p: { ...p, correlationData: [...p.correlationData] } };
}

function assertCorrupt(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RobustMQError, String(err));
    assert.equal(err.code, ErrorCode.STORAGE_CORRUPT);
    return true;
  });
}

describe("message key (format 1)", () => {
  test("round-trips every field, with topics in any script", () => {
    for (const meta of METAS) {
      for (const topic of ["t", "a/b/c", "", "温度/😀", "$SYS/x"]) {
        const key = encodeMessageKey(topic, meta);
        assert.equal(key[0], MESSAGE_KEY_FORMAT);
        const decoded = decodeMessageKey(key);
        assert.equal(decoded.topic, topic);
        assert.deepEqual(plain(decoded.meta), plain(meta));
      }
    }
  });

  test("the common case is small: no msgpack, a few bytes around topic and client id", () => {
    const key = encodeMessageKey("bench/w7/3", { q: 1, r: false, x: 0, o: "w7-pub-3" });
    assert.equal(key.length, 2 + 2 + "w7-pub-3".length + "bench/w7/3".length);
  });

  test("a record round-trips through a batch; several share one batch with their offsets", () => {
    const batch = buildRecordBatch([
      messageRecord("a/b", Buffer.from("one"), METAS[1], 10),
      changeRecord({ t: "drop", c: "gone" }, 11),
      messageRecord("c", Buffer.alloc(0), FULL_META, 12),
    ]);
    const entries = records(batch).map(decodeEntry);
    assert.equal(entries.length, 3);
    const [first, second, third] = entries;
    assert.equal(first?.kind, "message");
    if (first?.kind === "message") {
      assert.deepEqual([first.offset, first.topic, first.payload.toString()], [0, "a/b", "one"]);
      assert.equal(first.timestamp, 10);
    }
    assert.deepEqual(second, { kind: "change", offset: 1, change: { t: "drop", c: "gone" } });
    assert.equal(third?.kind, "message");
    if (third?.kind === "message") {
      assert.equal(third.offset, 2);
      assert.equal(third.payload.length, 0);
      assert.deepEqual(plain(third.meta), plain(FULL_META));
    }
  });

  test("messages written before format 1 (msgpack header) are still read", () => {
    for (const meta of METAS) {
      const [record] = records(legacyMessageBatch("old/topic", Buffer.from("p"), meta, 5));
      const entry = decodeEntry(record);
      assert.equal(entry?.kind, "message");
      if (entry?.kind !== "message") return;
      assert.equal(entry.topic, "old/topic");
      assert.equal(entry.payload.toString(), "p");
      assert.deepEqual(plain(entry.meta), plain(meta));
    }
  });

  test("a record of an unknown kind or format is skipped, not misread", () => {
    const unknownFormat = Buffer.from([MESSAGE_KEY_FORMAT + 1, 1, 0, 0]);
    const batch = buildRecordBatch([
      { timestamp: 0, key: unknownFormat, value: Buffer.from("x") },
      {
        timestamp: 0,
        key: Buffer.from("t"),
        value: null,
        headers: [{ key: "other", value: null }],
      },
      { timestamp: 0, key: null, value: null },
    ]);
    for (const record of records(batch)) assert.equal(decodeEntry(record), null);
  });

  test("every truncation of a key is refused", () => {
    const key = encodeMessageKey("", FULL_META);
    // The topic is the rest of the key, so only cuts before it can be detected.
    const topicStart = key.length;
    for (let length = 0; length < topicStart; length++) {
      if (length === 0) continue; // an empty key is not a message key at all
      assertCorrupt(() => decodeMessageKey(key.subarray(0, length)));
    }
  });

  test("QoS 3, packet id 0, lengths past the end and bad properties are refused", () => {
    const good = encodeMessageKey("t", { q: 1, r: false, x: 0, o: "c" });
    const flags = (value: number) => Buffer.concat([Buffer.from([1, value]), good.subarray(2)]);
    // Every bit of the flags byte has a meaning: a new flag needs a new key format.
    assert.equal(decodeMessageKey(flags(0x80 | 1)).meta.n, true);
    assertCorrupt(() => decodeMessageKey(flags(3)));
    assertCorrupt(() => decodeMessageKey(Buffer.from([1, 1 | (1 << 4), 0, 0, 0, 0])));
    assertCorrupt(() => decodeMessageKey(Buffer.from([1, 1, 0xff, 0xff, 65])));
    const withProps = encodeMessageKey("t", {
      q: 1,
      r: false,
      x: 0,
      o: "",
      p: { contentType: "a" },
    });
    const bad = Buffer.from(withProps);
    bad.writeUInt32BE(1, 4); // the properties claim one byte: a msgpack map cut short
    assertCorrupt(() => decodeMessageKey(bad));
    const notMap = Buffer.from([1, 1 | (1 << 6), 0, 0, 0, 0, 0, 1, 0x05]); // msgpack 5
    assertCorrupt(() => decodeMessageKey(notMap));
  });

  test("random bytes behind the format byte decode or are refused, nothing else", () => {
    const prng = new Prng(7);
    for (let n = 0; n < 2000; n++) {
      const key = Buffer.alloc(2 + prng.below(40));
      for (let i = 0; i < key.length; i++) key[i] = prng.below(256);
      key[0] = MESSAGE_KEY_FORMAT;
      if (prng.chance(0.5)) key[1] &= 0x7f;
      try {
        const { meta } = decodeMessageKey(key);
        assert.ok(meta.q >= 0 && meta.q <= 2);
      } catch (err) {
        assert.ok(err instanceof RobustMQError && err.code === ErrorCode.STORAGE_CORRUPT, `${err}`);
      }
    }
  });

  test("a corrupt key inside a valid batch is refused by decodeEntry", () => {
    const [record] = records(messageBatch("t", Buffer.from("p"), FULL_META, 0));
    assert.ok(record.key !== null);
    const cut = { ...record, key: record.key.subarray(0, 5) };
    assertCorrupt(() => decodeEntry(cut));
  });
});

const DIRECTORY = "/mqtt-log";

async function openLog(fs: FaultyFileSystem): Promise<PartitionLog> {
  await fs.mkdir(DIRECTORY).catch(() => {});
  return PartitionLog.open(DIRECTORY, { retention_ms: -1 }, { fs });
}

async function entriesOf(log: PartitionLog): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  await scanLog(log, 0, (record) => {
    const entry = decodeEntry(record);
    if (entry !== null) entries.push(entry);
  });
  return entries;
}

function newMessage(topic: string, payloadBytes = 8): Message {
  return new Message(topic, Buffer.alloc(payloadBytes, 1), 1, false, undefined, 0, "pub");
}

function store(appender: LogAppender, message: Message): Promise<void> {
  const meta: MessageMeta = { q: 1, r: false, x: 0, o: message.origin };
  const record = messageRecord(message.topic, message.payload, meta, 0);
  const size = (record.key as Buffer).length + message.payload.length;
  return appender.add(record, size, message).done;
}

describe("appender", () => {
  test("one turn's records become one batch, in call order, offsets set before done", async () => {
    const log = await openLog(new FaultyFileSystem({ seed: 1 }));
    const appender = new LogAppender(log);
    const messages = [newMessage("a"), newMessage("b"), newMessage("c")];
    const stored = [store(appender, messages[0])];
    const change = changeRecord({ t: "drop", c: "x" }, 0);
    const changeBatch = appender.add(change, (change.value as Buffer).length, null);
    stored.push(store(appender, messages[1]), store(appender, messages[2]));
    assert.deepEqual(
      messages.map((m) => m.logOffset),
      [-1, -1, -1],
      "nothing has an offset before it is durable",
    );
    await Promise.all(stored);
    assert.deepEqual(
      messages.map((m) => m.logOffset),
      [0, 2, 3],
    );
    assert.equal(changeBatch.baseOffset, 0);
    assert.deepEqual([appender.batchCount, appender.recordCount], [1, 4]);
    const entries = await entriesOf(log);
    assert.deepEqual(
      entries.map((e) => (e.kind === "message" ? `${e.offset}:${e.topic}` : `${e.offset}:drop`)),
      ["0:a", "1:drop", "2:b", "3:c"],
    );
    await log.close();
  });

  test("a batch closes at its size target; the next turn starts a new one", async () => {
    const log = await openLog(new FaultyFileSystem({ seed: 2 }));
    const appender = new LogAppender(log);
    const payloadBytes = 1000;
    const count = Math.ceil((3 * BATCH_BYTES_TARGET) / payloadBytes);
    const first: Message[] = [];
    for (let i = 0; i < count; i++) first.push(newMessage(`t/${i}`, payloadBytes));
    await Promise.all(first.map((m) => store(appender, m)));
    assert.ok(appender.batchCount >= 3 && appender.batchCount <= 5, `${appender.batchCount}`);
    const later = newMessage("later");
    await store(appender, later);
    assert.equal(later.logOffset, count);
    const offsets = first.map((m) => m.logOffset);
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => i),
    );
    await log.close();
  });

  test("a failed append fails every record of its batch and counts them", async () => {
    const fs = new FaultyFileSystem({ seed: 3 });
    const log = await openLog(fs);
    const appender = new LogAppender(log);
    fs.failNext("fsync", 1, "ENOSPC");
    const messages = [newMessage("a"), newMessage("b")];
    const results = await Promise.allSettled(messages.map((m) => store(appender, m)));
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.deepEqual(
      messages.map((m) => m.logOffset),
      [-1, -1],
    );
    assert.equal(appender.failedRecords, 2);
    const next = newMessage("c");
    await store(appender, next);
    assert.equal(next.logOffset, 0, "the failed batch took no offsets");
    await log.close();
  });
});
