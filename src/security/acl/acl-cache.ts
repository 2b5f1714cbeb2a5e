/**
 * One connection's memory of ACL decisions, so a client publishing to the same few topics
 * pays for the rule walk once. A decision holds for one rule set only: the cache remembers
 * the `Acl.version` it was filled under and forgets everything when that changes.
 *
 * On the publish hot path, so a hit is one Map lookup and nothing is allocated: eviction is
 * first-in-first-out through a ring of keys that grows to `maxTopics` and is then reused.
 */
import { assert } from "../../errors.ts";

export type AclCacheAction = "publish" | "subscribe";

/** What `mqtt_acl.cache_max_topics` allows at most (src/config/schema.ts). */
const CACHE_TOPICS_MAX = 100_000;

/** Decisions for one action, bounded by a FIFO ring of the keys in insertion order. */
class DecisionTable {
  readonly decisions: Map<string, boolean>;
  readonly ring: string[];
  /** The ring slot the next new key replaces once the ring is full. */
  next: number;

  constructor() {
    this.decisions = new Map();
    this.ring = [];
    this.next = 0;
  }

  clear(): void {
    this.decisions.clear();
    this.ring.length = 0;
    this.next = 0;
  }

  set(topic: string, allowed: boolean, capacity: number): void {
    if (this.decisions.has(topic)) {
      this.decisions.set(topic, allowed); // same key, same ring slot
      return;
    }
    if (this.ring.length < capacity) {
      this.ring.push(topic);
    } else {
      this.decisions.delete(this.ring[this.next]); // the oldest key
      this.ring[this.next] = topic;
      this.next = (this.next + 1) % capacity;
    }
    this.decisions.set(topic, allowed);
    assert(this.decisions.size === this.ring.length, "cache ring and map agree");
  }
}

export class AclCache {
  readonly maxTopics: number;
  #version: number;
  readonly #publish: DecisionTable;
  readonly #subscribe: DecisionTable;

  /** `maxTopics` decisions per action at most; 0 caches nothing. */
  constructor(maxTopics: number) {
    assert(Number.isInteger(maxTopics) && maxTopics >= 0, "maxTopics is a whole number");
    assert(maxTopics <= CACHE_TOPICS_MAX, "maxTopics within mqtt_acl.cache_max_topics bounds");
    this.maxTopics = maxTopics;
    this.#version = -1; // matches no Acl version, which start at 0
    this.#publish = new DecisionTable();
    this.#subscribe = new DecisionTable();
  }

  /** The remembered decision, or undefined when none holds for this rule set `version`. */
  get(version: number, action: AclCacheAction, topic: string): boolean | undefined {
    if (version !== this.#version) {
      this.#reset(version);
      return undefined;
    }
    return (action === "publish" ? this.#publish : this.#subscribe).decisions.get(topic);
  }

  set(version: number, action: AclCacheAction, topic: string, allowed: boolean): void {
    if (this.maxTopics === 0) return;
    if (version !== this.#version) this.#reset(version);
    (action === "publish" ? this.#publish : this.#subscribe).set(topic, allowed, this.maxTopics);
  }

  /** How many decisions are held, over both actions (for tests and metrics). */
  get size(): number {
    return this.#publish.decisions.size + this.#subscribe.decisions.size;
  }

  #reset(version: number): void {
    this.#publish.clear();
    this.#subscribe.clear();
    this.#version = version;
  }
}
