/**
 * Retained messages: at most one per topic name (MQTT 5 section 3.3.1.3).
 *
 * Here the wildcards are in the query (a new subscription's filter) and the stored keys are
 * plain topic names, so the store is a trie of topic levels walked by the filter: a literal
 * level follows one child, '+' fans out over all children, '#' takes a whole subtree. The cost
 * of a match is the part of the tree the filter selects, never the whole store. Empty nodes
 * are pruned on delete so a churn of short-lived retained topics leaves nothing behind.
 */
import { assert } from "../../errors.ts";
import { validateTopicFilter, validateTopicName } from "./topic.ts";
import { LevelNode } from "./topic-trie.ts";

const LEVEL_PLUS = "+";
const LEVEL_HASH = "#";
const CHAR_DOLLAR = 0x24;

class RetainedNode<M> extends LevelNode<RetainedNode<M>> {
  /** The full topic name when a message is retained here (non-null iff one is), kept so a
   * match can report it without rebuilding it from the levels. */
  topic: string | null;
  message: M | undefined;

  constructor() {
    super();
    this.topic = null;
    this.message = undefined;
  }

  get isEmpty(): boolean {
    return this.topic === null && !this.hasChildren;
  }
}

export type RetainedVisitor<M> = (topic: string, message: M) => void;

/** Children of `node`, optionally without the '$' ones ([MQTT-4.7.2-1] at the first level). */
function pushChildren<M>(node: RetainedNode<M>, skipDollar: boolean, out: RetainedNode<M>[]) {
  if (node.child !== null) {
    if (!skipDollar || (node.childLevel as string).charCodeAt(0) !== CHAR_DOLLAR) {
      out.push(node.child);
    }
    return;
  }
  if (node.children === null) return;
  for (const [level, child] of node.children) {
    if (!skipDollar || level.charCodeAt(0) !== CHAR_DOLLAR) out.push(child);
  }
}

/** Visits every message in the subtrees on `pending`, which it empties. */
function visitSubtrees<M>(pending: RetainedNode<M>[], visit: RetainedVisitor<M>): void {
  while (pending.length > 0) {
    const node = pending.pop() as RetainedNode<M>;
    if (node.topic !== null) visit(node.topic, node.message as M);
    pushChildren(node, false, pending);
  }
}

export class RetainedStore<M> {
  readonly #root = new RetainedNode<M>();
  #messageCount = 0;
  #nodeCount = 0;

  /** Number of retained messages. */
  get size(): number {
    return this.#messageCount;
  }

  /** Nodes below the root; 0 whenever the store is empty (leak check). */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /** Stores `message` as the retained message of `topic`, replacing any previous one. */
  set(topic: string, message: M): void {
    assert(validateTopicName(topic), "retained set: invalid topic name");
    const levels = topic.split("/");
    let node = this.#root;
    for (const level of levels) {
      let next = node.literal(level);
      if (next === undefined) {
        next = new RetainedNode<M>();
        node.addLiteral(level, next);
        this.#nodeCount++;
      }
      node = next;
    }
    if (node.topic === null) this.#messageCount++;
    node.topic = topic;
    node.message = message;
    assert(this.#messageCount <= this.#nodeCount, "retained set: more messages than nodes");
  }

  get(topic: string): M | undefined {
    const node = this.#find(topic.split("/"));
    if (node === undefined || node.topic === null) return undefined;
    return node.message;
  }

  /** Returns true if `topic` had a retained message. */
  delete(topic: string): boolean {
    const levels = topic.split("/");
    // path[d] is the node reached after d levels; pruning walks it back up.
    const path: RetainedNode<M>[] = [this.#root];
    for (let depth = 0; depth < levels.length; depth++) {
      const next = path[depth].literal(levels[depth]);
      if (next === undefined) return false;
      path.push(next);
    }
    const node = path[levels.length];
    if (node.topic === null) return false;
    assert(node.topic === topic, "retained delete: node holds another topic");
    node.topic = null;
    node.message = undefined;
    this.#messageCount--;
    for (let depth = levels.length; depth > 0 && path[depth].isEmpty; depth--) {
      path[depth - 1].removeLiteral(levels[depth - 1]);
      this.#nodeCount--;
    }
    assert(this.#messageCount >= 0 && this.#nodeCount >= 0, "retained delete: negative count");
    return true;
  }

  /**
   * Calls `visit` once for every retained message whose topic matches `filter`. `visit` may
   * delete what it is shown (say, an expired message): pruning only detaches empty nodes.
   */
  match(filter: string, visit: RetainedVisitor<M>): void {
    assert(validateTopicFilter(filter), "retained match: invalid topic filter");
    const levels = filter.split("/");
    const nodes: RetainedNode<M>[] = [this.#root];
    const depths: number[] = [0];
    const fanOut: RetainedNode<M>[] = [];
    while (nodes.length > 0) {
      const node = nodes.pop() as RetainedNode<M>;
      const depth = depths.pop() as number;
      if (depth === levels.length) {
        if (node.topic !== null) visit(node.topic, node.message as M);
        continue;
      }
      const level = levels[depth];
      if (level === LEVEL_HASH) {
        // '#' matches the parent level too: "sport/#" matches "sport".
        if (node.topic !== null) visit(node.topic, node.message as M);
        pushChildren(node, depth === 0, fanOut); // [MQTT-4.7.2-1]
        visitSubtrees(fanOut, visit);
      } else if (level === LEVEL_PLUS) {
        pushChildren(node, depth === 0, fanOut); // [MQTT-4.7.2-1]
        for (const child of fanOut) {
          nodes.push(child);
          depths.push(depth + 1);
        }
        fanOut.length = 0;
      } else {
        const child = node.literal(level);
        if (child !== undefined) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }

  /** Every (topic, message), in no particular order; for persistence and admin listings. */
  *entries(): IterableIterator<[string, M]> {
    const pending: RetainedNode<M>[] = [this.#root];
    while (pending.length > 0) {
      const node = pending.pop() as RetainedNode<M>;
      if (node.topic !== null) yield [node.topic, node.message as M];
      pushChildren(node, false, pending);
    }
  }

  #find(levels: string[]): RetainedNode<M> | undefined {
    let node: RetainedNode<M> | undefined = this.#root;
    for (let depth = 0; depth < levels.length && node !== undefined; depth++) {
      node = node.literal(levels[depth]);
    }
    return node;
  }
}
