/**
 * Subscription index: topic filter -> subscribers, matched against a PUBLISH topic name.
 *
 * Filters without wildcards (most IoT subscriptions: `device/{id}/cmd`) live in one Map keyed
 * by the filter string, because an exact filter matches exactly one topic string. That costs
 * one map entry per filter instead of one trie node per level, and matching it is a single
 * hash lookup. Only filters with '+' or '#' go into the trie, so a publish walks a trie whose
 * size depends on the wildcard subscriptions alone, and only the branches its levels select.
 *
 * Memory is kept small because a broker holds millions of these: child maps are created only
 * when a node gets a second child (a single child is stored inline), a filter with a single
 * subscriber stores it inline too, and removing a filter's last subscriber prunes every node
 * that became empty, so subscribe/unsubscribe churn leaves nothing behind.
 */
import { assert } from "../../errors.ts";
import { hasWildcard, validateTopicFilter } from "./topic.ts";

/** Below this many subscribers a linear scan of the key array beats a Map, and costs less. */
const SUBSCRIBER_LINEAR_SCAN_MAX = 8;

/** Subscribers of one filter when there are two or more; parallel arrays iterate without
 * allocating, and `index` (built past SUBSCRIBER_LINEAR_SCAN_MAX) keeps removal O(1). */
class SubscriberList<V> {
  readonly keys: string[];
  readonly values: V[];
  index: Map<string, number> | null;

  constructor() {
    this.keys = [];
    this.values = [];
    this.index = null;
  }

  indexOf(key: string): number {
    if (this.index !== null) return this.index.get(key) ?? -1;
    return this.keys.indexOf(key);
  }

  push(key: string, value: V): void {
    this.keys.push(key);
    this.values.push(value);
    if (this.index !== null) {
      this.index.set(key, this.keys.length - 1);
    } else if (this.keys.length > SUBSCRIBER_LINEAR_SCAN_MAX) {
      this.index = new Map();
      for (let i = 0; i < this.keys.length; i++) this.index.set(this.keys[i], i);
    }
  }

  /** Order is not kept: the last entry moves into the hole. */
  removeAt(position: number): void {
    const last = this.keys.length - 1;
    assert(position >= 0 && position <= last, "subscriber position out of range");
    const removedKey = this.keys[position];
    if (position !== last) {
      this.keys[position] = this.keys[last];
      this.values[position] = this.values[last];
      this.index?.set(this.keys[position], position);
    }
    this.keys.pop();
    this.values.pop();
    this.index?.delete(removedKey);
    if (this.keys.length <= SUBSCRIBER_LINEAR_SCAN_MAX) this.index = null;
  }
}

/**
 * Everyone subscribed to one filter. Most filters have exactly one subscriber, held in
 * `key`/`value` without any array; `many` takes over from the second subscriber on.
 */
class Subscribers<V> {
  readonly filter: string;
  key: string | null;
  value: V | undefined;
  many: SubscriberList<V> | null;

  constructor(filter: string) {
    this.filter = filter;
    this.key = null;
    this.value = undefined;
    this.many = null;
  }

  get isEmpty(): boolean {
    return this.key === null && this.many === null;
  }

  get(key: string): V | undefined {
    if (this.many === null) return this.key === key ? this.value : undefined;
    const position = this.many.indexOf(key);
    return position < 0 ? undefined : this.many.values[position];
  }

  /** Returns true when `key` is new; an existing key only gets its value replaced. */
  set(key: string, value: V): boolean {
    if (this.many !== null) {
      const position = this.many.indexOf(key);
      if (position >= 0) {
        this.many.values[position] = value;
        return false;
      }
      this.many.push(key, value);
      return true;
    }
    if (this.key === null || this.key === key) {
      const added = this.key === null;
      this.key = key;
      this.value = value;
      return added;
    }
    this.many = new SubscriberList();
    this.many.push(this.key, this.value as V);
    this.many.push(key, value);
    this.key = null;
    this.value = undefined;
    return true;
  }

  delete(key: string): boolean {
    if (this.many === null) {
      if (this.key !== key) return false;
      this.key = null;
      this.value = undefined;
      return true;
    }
    const position = this.many.indexOf(key);
    if (position < 0) return false;
    this.many.removeAt(position);
    if (this.many.keys.length === 1) {
      // Back to the inline form, so churn does not leave one-entry arrays behind.
      this.key = this.many.keys[0];
      this.value = this.many.values[0];
      this.many = null;
    }
    return true;
  }
}

/**
 * A trie node's literal children, shared by the subscription trie and the retained store.
 * Most nodes in a topic tree have one child (`device/{id}/status`), and a Map costs far more
 * than two fields, so a lone child is held inline and `children` exists only from the second.
 */
export class LevelNode<N extends LevelNode<N>> {
  childLevel: string | null;
  child: N | null;
  children: Map<string, N> | null;

  constructor() {
    this.childLevel = null;
    this.child = null;
    this.children = null;
  }

  get hasChildren(): boolean {
    return this.child !== null || this.children !== null;
  }

  literal(level: string): N | undefined {
    if (this.childLevel === level) return this.child ?? undefined;
    return this.children?.get(level);
  }

  addLiteral(level: string, node: N): void {
    assert(this.literal(level) === undefined, "literal child already present");
    if (!this.hasChildren) {
      this.childLevel = level;
      this.child = node;
      return;
    }
    if (this.children === null) {
      this.children = new Map([[this.childLevel as string, this.child as N]]);
      this.childLevel = null;
      this.child = null;
    }
    this.children.set(level, node);
  }

  removeLiteral(level: string): void {
    if (this.childLevel === level) {
      this.childLevel = null;
      this.child = null;
      return;
    }
    const children = this.children;
    assert(children !== null, "literal child missing on prune");
    const deleted = children.delete(level);
    assert(deleted, "literal child missing on prune");
    if (children.size === 1) {
      // Back to the inline form: a Map never gives its buckets back as it empties.
      const [[onlyLevel, onlyNode]] = children;
      this.childLevel = onlyLevel;
      this.child = onlyNode;
      this.children = null;
    }
  }
}

/** One level of the wildcard trie. Literal children, '+' and '#' are kept apart so a match
 * looks each one up directly instead of scanning. */
class TrieNode<V> extends LevelNode<TrieNode<V>> {
  plus: TrieNode<V> | null;
  /** Subscribers of "<this path>/#"; '#' is always the last level, so it needs no node. */
  hashSubscribers: Subscribers<V> | null;
  /** Subscribers of the filter that ends exactly at this node. */
  subscribers: Subscribers<V> | null;

  constructor() {
    super();
    this.plus = null;
    this.hashSubscribers = null;
    this.subscribers = null;
  }

  get isEmpty(): boolean {
    return (
      !this.hasChildren &&
      this.plus === null &&
      this.hashSubscribers === null &&
      this.subscribers === null
    );
  }
}

const LEVEL_PLUS = "+";
const LEVEL_HASH = "#";
const CHAR_DOLLAR = 0x24;

export type SubscriptionVisitor<V> = (key: string, value: V, filter: string) => void;

/** Maps topic filters to subscribers (`key`, e.g. a client id or share group, and a value). */
export class SubscriptionTrie<V> {
  readonly #exact = new Map<string, Subscribers<V>>();
  readonly #root = new TrieNode<V>();
  #subscriptionCount = 0;
  #wildcardFilterCount = 0;
  #nodeCount = 0;
  /** Match's DFS stack, reused so a publish allocates nothing but level strings for Map
   * lookups. A match started from inside a visitor pushes above `#stackTop`, then restores it. */
  readonly #stackNodes: (TrieNode<V> | null)[] = [];
  readonly #stackOffsets: number[] = [];
  #stackTop = 0;
  /** Matches in progress; changing the trie under a running match would corrupt it. */
  #matchNesting = 0;

  /** Number of (filter, key) pairs. */
  get size(): number {
    return this.#subscriptionCount;
  }

  /** Number of distinct filters with at least one subscriber. */
  get filterCount(): number {
    return this.#exact.size + this.#wildcardFilterCount;
  }

  /** Trie nodes below the root; 0 whenever no wildcard filter is subscribed (leak check). */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /** Returns true if (filter, key) is new; otherwise replaces its value and returns false. */
  add(filter: string, key: string, value: V): boolean {
    assert(validateTopicFilter(filter), "add: invalid topic filter");
    assert(this.#matchNesting === 0, "add: trie changed during match");
    let subscribers: Subscribers<V> | undefined;
    if (hasWildcard(filter)) {
      subscribers = this.#createWildcard(filter);
    } else {
      subscribers = this.#exact.get(filter);
      if (subscribers === undefined) {
        subscribers = new Subscribers(filter);
        this.#exact.set(filter, subscribers);
      }
    }
    const added = subscribers.set(key, value);
    if (added) this.#subscriptionCount++;
    assert(!subscribers.isEmpty, "add: subscriber not stored");
    return added;
  }

  /** Returns true if (filter, key) was present. */
  remove(filter: string, key: string): boolean {
    assert(this.#matchNesting === 0, "remove: trie changed during match");
    if (hasWildcard(filter)) return this.#removeWildcard(filter, key);
    const subscribers = this.#exact.get(filter);
    if (subscribers === undefined || !subscribers.delete(key)) return false;
    if (subscribers.isEmpty) this.#exact.delete(filter);
    this.#subscriptionCount--;
    assert(this.#subscriptionCount >= 0, "remove: negative subscription count");
    return true;
  }

  get(filter: string, key: string): V | undefined {
    const subscribers = hasWildcard(filter) ? this.#findWildcard(filter) : this.#exact.get(filter);
    return subscribers?.get(key);
  }

  /**
   * Calls `visit` once for every (filter, key) whose filter matches `topic`, a valid topic
   * name. `visit` must not add or remove subscriptions (asserted); it may call match again.
   */
  match(topic: string, visit: SubscriptionVisitor<V>): void {
    assert(topic.length > 0, "match: empty topic name");
    this.#matchNesting++;
    try {
      const exact = this.#exact.get(topic);
      if (exact !== undefined) visitSubscribers(exact, visit);
      if (!this.#root.isEmpty) this.#matchWildcards(topic, visit);
    } finally {
      this.#matchNesting--;
    }
  }

  /**
   * Walks the topic's levels by offset instead of splitting it: a lone literal child is compared
   * in place, so a level becomes a string only where a child Map must be asked, and a branch
   * that dies early never scans the rest of the topic.
   */
  #matchWildcards(topic: string, visit: SubscriptionVisitor<V>): void {
    const length = topic.length;
    // [MQTT-4.7.2-1] A filter starting with '+' or '#' does not match a topic starting with '$'.
    const wildcardsAtRoot = topic.charCodeAt(0) !== CHAR_DOLLAR;
    const nodes = this.#stackNodes;
    // Where the next level starts; past `length` once every level has been consumed.
    const offsets = this.#stackOffsets;
    const base = this.#stackTop;
    let top = base;
    nodes[top] = this.#root;
    offsets[top] = 0;
    top++;
    try {
      while (top > base) {
        top--;
        const node = nodes[top] as TrieNode<V>;
        const offset = offsets[top];
        nodes[top] = null; // do not keep pruned nodes alive from the spare stack slots
        const wildcardsAllowed = offset > 0 || wildcardsAtRoot;
        if (node.hashSubscribers !== null && wildcardsAllowed) {
          // '#' also matches the parent level: "sport/#" matches "sport" and "sport/".
          this.#stackTop = top;
          visitSubscribers(node.hashSubscribers, visit);
        }
        if (offset > length) {
          if (node.subscribers !== null) {
            this.#stackTop = top;
            visitSubscribers(node.subscribers, visit);
          }
          continue;
        }
        let end = topic.indexOf("/", offset);
        if (end < 0) end = length;
        const literal = literalChild(node, topic, offset, end);
        if (literal !== undefined) {
          nodes[top] = literal;
          offsets[top++] = end + 1;
        }
        if (node.plus !== null && wildcardsAllowed) {
          nodes[top] = node.plus;
          offsets[top++] = end + 1;
        }
      }
    } finally {
      for (let i = base; i < top; i++) nodes[i] = null;
      this.#stackTop = base;
    }
  }

  /** The subscribers of a wildcard filter, creating its path and entry when missing. */
  #createWildcard(filter: string): Subscribers<V> {
    const levels = filter.split("/");
    const endsWithHash = levels[levels.length - 1] === LEVEL_HASH;
    const walkCount = endsWithHash ? levels.length - 1 : levels.length;
    let node = this.#root;
    for (let depth = 0; depth < walkCount; depth++) {
      const level = levels[depth];
      let next = level === LEVEL_PLUS ? node.plus : (node.literal(level) ?? null);
      if (next === null) {
        next = new TrieNode<V>();
        if (level === LEVEL_PLUS) node.plus = next;
        else node.addLiteral(level, next);
        this.#nodeCount++;
      }
      node = next;
    }
    let subscribers = endsWithHash ? node.hashSubscribers : node.subscribers;
    if (subscribers === null) {
      subscribers = new Subscribers<V>(filter);
      if (endsWithHash) node.hashSubscribers = subscribers;
      else node.subscribers = subscribers;
      this.#wildcardFilterCount++;
    }
    assert(subscribers.filter === filter, "wildcard filter stored under another path");
    return subscribers;
  }

  #findWildcard(filter: string): Subscribers<V> | undefined {
    const levels = filter.split("/");
    const endsWithHash = levels[levels.length - 1] === LEVEL_HASH;
    const walkCount = endsWithHash ? levels.length - 1 : levels.length;
    let node: TrieNode<V> | undefined = this.#root;
    for (let depth = 0; depth < walkCount && node !== undefined; depth++) {
      const level = levels[depth];
      node = level === LEVEL_PLUS ? (node.plus ?? undefined) : node.literal(level);
    }
    if (node === undefined) return undefined;
    return (endsWithHash ? node.hashSubscribers : node.subscribers) ?? undefined;
  }

  #removeWildcard(filter: string, key: string): boolean {
    const levels = filter.split("/");
    const endsWithHash = levels[levels.length - 1] === LEVEL_HASH;
    const walkCount = endsWithHash ? levels.length - 1 : levels.length;
    // path[d] is the node reached after d levels; pruning walks it back up.
    const path: TrieNode<V>[] = [this.#root];
    for (let depth = 0; depth < walkCount; depth++) {
      const level = levels[depth];
      const parent = path[depth];
      const next = level === LEVEL_PLUS ? parent.plus : parent.literal(level);
      if (next === null || next === undefined) return false;
      path.push(next);
    }
    const node = path[walkCount];
    const subscribers = endsWithHash ? node.hashSubscribers : node.subscribers;
    if (subscribers === null || !subscribers.delete(key)) return false;
    this.#subscriptionCount--;
    if (!subscribers.isEmpty) return true;
    if (endsWithHash) node.hashSubscribers = null;
    else node.subscribers = null;
    this.#wildcardFilterCount--;
    this.#prune(path, levels, walkCount);
    assert(this.#nodeCount >= 0 && this.#wildcardFilterCount >= 0, "remove: negative count");
    return true;
  }

  /** Detaches every empty node on `path`, deepest first; stops at the first one still used. */
  #prune(path: TrieNode<V>[], levels: string[], walkCount: number): void {
    for (let depth = walkCount; depth > 0; depth--) {
      if (!path[depth].isEmpty) return;
      const parent = path[depth - 1];
      const level = levels[depth - 1];
      if (level === LEVEL_PLUS) parent.plus = null;
      else parent.removeLiteral(level);
      this.#nodeCount--;
    }
  }
}

/** The literal child for topic level `topic[offset, end)`, comparing a lone child in place. */
function literalChild<V>(
  node: TrieNode<V>,
  topic: string,
  offset: number,
  end: number,
): TrieNode<V> | undefined {
  if (node.child !== null) {
    const level = node.childLevel as string;
    const same = level.length === end - offset && topic.startsWith(level, offset);
    return same ? node.child : undefined;
  }
  return node.children?.get(topic.slice(offset, end));
}

function visitSubscribers<V>(subscribers: Subscribers<V>, visit: SubscriptionVisitor<V>): void {
  const many = subscribers.many;
  if (many === null) {
    visit(subscribers.key as string, subscribers.value as V, subscribers.filter);
    return;
  }
  const keys = many.keys;
  const values = many.values;
  for (let i = 0; i < keys.length; i++) visit(keys[i], values[i], subscribers.filter);
}
