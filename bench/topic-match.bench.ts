/**
 * Subscription matching and retained lookup at 1M subscriptions.
 *
 *   node_modules/.bin/node --expose-gc bench/topic-match.bench.ts
 *
 * Reports heap bytes per subscription (the index's own cost: filter and key strings are created
 * before the baseline, because a broker holds them in its sessions anyway) and matches/s for
 * publish topics that hit exact filters, wildcard filters, both, or nothing. Topics are drawn at
 * random from 65,536 distinct names, so most lookups miss the CPU caches (a pessimistic case);
 * the "hot topics" lines repeat 1,024 or 16 names instead; 16 shows the CPU cost alone.
 * Prints one JSON summary line last.
 */
import { RetainedStore } from "../src/broker/mqtt/retained.ts";
import { SubscriptionTrie } from "../src/broker/mqtt/topic-trie.ts";

const SUBSCRIPTION_COUNT = 1_000_000;
const MATCH_COUNT = 2_000_000;
const TOPIC_SAMPLE_COUNT = 65_536; // power of two: the loop masks instead of dividing

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsedBytes(): number {
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** A fixed-seed generator so every run matches the same topics. */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Subscription {
  filter: string;
  key: string;
}

/** Builds a trie from prepared subscriptions and measures only what the trie added. */
function measureTrie(subscriptions: Subscription[]) {
  const before = heapUsedBytes();
  const startMs = performance.now();
  const trie = new SubscriptionTrie<number>();
  for (let i = 0; i < subscriptions.length; i++) {
    trie.add(subscriptions[i].filter, subscriptions[i].key, i);
  }
  const addMs = performance.now() - startMs;
  const bytesPerSubscription = (heapUsedBytes() - before) / subscriptions.length;
  return { trie, addPerSecond: subscriptions.length / (addMs / 1000), bytesPerSubscription };
}

function measureMatch(trie: SubscriptionTrie<number>, topics: string[]) {
  let visits = 0;
  const visit = () => {
    visits++;
  };
  const mask = topics.length - 1;
  for (let i = 0; i < 200_000; i++) trie.match(topics[i & mask], visit); // warm-up
  visits = 0;
  const startMs = performance.now();
  for (let i = 0; i < MATCH_COUNT; i++) trie.match(topics[i & mask], visit);
  const elapsedMs = performance.now() - startMs;
  return {
    matchesPerSecond: Math.round(MATCH_COUNT / (elapsedMs / 1000)),
    visitsPerMatch: visits / MATCH_COUNT,
  };
}

/** `distinctCount` topics repeated to fill the sample: small counts model a hot working set. */
function sampleTopics(make: (random: () => number) => string, distinctCount = TOPIC_SAMPLE_COUNT) {
  const random = makeRandom(42);
  const distinct = Array.from({ length: distinctCount }, () => make(random));
  return Array.from({ length: TOPIC_SAMPLE_COUNT }, (_, i) => distinct[i % distinctCount]);
}

/** The mixed workload: 80% exact device filters, 20% wildcards, as IoT fleets tend to look. */
function mixedSubscriptions(): Subscription[] {
  const subscriptions: Subscription[] = [];
  const exactCount = SUBSCRIPTION_COUNT * 0.8;
  const wildcardCount = (SUBSCRIPTION_COUNT - exactCount) / 2;
  for (let i = 0; i < exactCount; i++) {
    subscriptions.push({ filter: `device/${i}/status`, key: `c${i}` });
  }
  for (let i = 0; i < wildcardCount; i++) {
    subscriptions.push({ filter: `device/${i}/+`, key: `w${i}` });
    subscriptions.push({ filter: `tenant/${i % 1000}/+/${i}/#`, key: `t${i}` });
  }
  return subscriptions;
}

function shapeSubscriptions(make: (i: number) => string): Subscription[] {
  return Array.from({ length: SUBSCRIPTION_COUNT }, (_, i) => ({ filter: make(i), key: `c${i}` }));
}

function benchSubscriptions() {
  const memory: Record<string, number> = {};
  for (const [name, make] of [
    ["exact device/{i}/status", (i: number) => `device/${i}/status`],
    ["wildcard device/{i}/+", (i: number) => `device/${i}/+`],
    ["wildcard +/{i}/#", (i: number) => `+/${i}/#`],
  ] as const) {
    const result = measureTrie(shapeSubscriptions(make));
    memory[name] = Math.round(result.bytesPerSubscription);
    console.log(
      `${name.padEnd(28)} ${memory[name]} bytes/subscription, ` +
        `${Math.round(result.addPerSecond).toLocaleString("en")} adds/s`,
    );
  }

  const { trie, bytesPerSubscription, addPerSecond } = measureTrie(mixedSubscriptions());
  memory["mixed 80% exact / 20% wildcard"] = Math.round(bytesPerSubscription);
  console.log(
    `mixed 1M (80% exact)         ${Math.round(bytesPerSubscription)} bytes/subscription, ` +
      `${Math.round(addPerSecond).toLocaleString("en")} adds/s`,
  );
  const n = SUBSCRIPTION_COUNT * 0.8;
  const wildcardCount = (SUBSCRIPTION_COUNT - n) / 2;
  const deepTopic = (i: number) => `tenant/${i % 1000}/site/${i}/a/b`;
  const scenarios: [string, string[]][] = [
    ["exact + wildcard hit", sampleTopics((r) => `device/${Math.floor(r() * n * 0.1)}/status`)],
    ["exact hit only", sampleTopics((r) => `device/${Math.floor(n * 0.1 + r() * n * 0.9)}/status`)],
    ["wildcard hit only", sampleTopics((r) => `device/${Math.floor(r() * n * 0.1)}/alarm`)],
    ["deep # hit", sampleTopics((r) => deepTopic(Math.floor(r() * wildcardCount)))],
    [
      "both, 1,024 hot topics",
      sampleTopics((r) => `device/${Math.floor(r() * n * 0.1)}/status`, 1024),
    ],
    ["both, 16 hot topics", sampleTopics((r) => `device/${Math.floor(r() * n * 0.1)}/status`, 16)],
    ["no match", sampleTopics((r) => `other/${Math.floor(r() * n)}/status`)],
    ["$SYS topic", sampleTopics((r) => `$SYS/broker/${Math.floor(r() * 100)}`)],
  ];
  const matching: Record<string, { matchesPerSecond: number; visitsPerMatch: number }> = {};
  for (const [name, topics] of scenarios) {
    const result = measureMatch(trie, topics);
    matching[name] = result;
    console.log(
      `match ${name.padEnd(22)} ${result.matchesPerSecond.toLocaleString("en")} matches/s ` +
        `(${result.visitsPerMatch.toFixed(2)} subscribers each)`,
    );
  }
  return { memory, matching };
}

function benchRetained() {
  const topics = Array.from({ length: SUBSCRIPTION_COUNT }, (_, i) => `device/${i}/status`);
  const before = heapUsedBytes();
  const store = new RetainedStore<number>();
  for (let i = 0; i < topics.length; i++) store.set(topics[i], i);
  const bytesPerMessage = Math.round((heapUsedBytes() - before) / topics.length);
  let visits = 0;
  const startMs = performance.now();
  const filterCount = 200_000;
  for (let i = 0; i < filterCount; i++) {
    store.match(`device/${(i * 7919) % SUBSCRIPTION_COUNT}/+`, () => visits++);
  }
  const matchesPerSecond = Math.round(filterCount / ((performance.now() - startMs) / 1000));
  console.log(
    `retained 1M device/{i}/status ${bytesPerMessage} bytes/message, ` +
      `${matchesPerSecond.toLocaleString("en")} filter matches/s (device/{i}/+, ${visits} hits)`,
  );
  return { bytesPerMessage, matchesPerSecond };
}

if (gc === undefined) console.log("run with --expose-gc for memory figures");
const subscriptions = benchSubscriptions();
const retained = benchRetained();
console.log(JSON.stringify({ bench: "topic-match", subscriptions, retained }));
