import { assert } from "../../errors.ts";
import type { QoS } from "../../protocol/mqtt/constants.ts";
import type { Message } from "./message.ts";
import type { Session, ShareRef, Subscription } from "./session.ts";
import { SubscriptionTrie } from "./topic-trie.ts";

export type SharedStrategy = "round_robin" | "random" | "hash_clientid";

/** A normal subscription of one session, as stored in the trie. */
interface DirectEntry {
  readonly kind: 0;
  readonly session: Session;
  readonly sub: Subscription;
}

/** All members of one share group on one filter: a message goes to one of them. */
export class SharedGroup implements ShareRef {
  readonly kind = 1 as const;
  /** Trie key, unique per group within its filter. */
  readonly key: string;
  readonly group: string;
  readonly filter: string;
  readonly members: Array<{ session: Session; sub: Subscription }> = [];
  next = 0;
  matchEpoch = 0;

  constructor(group: string, filter: string) {
    this.key = `\u0000${group}`;
    this.group = group;
    this.filter = filter;
  }
}

type Entry = DirectEntry | SharedGroup;

/** Receives each routed delivery; `share` is set when it came through a share group. */
export type DeliverFn = (
  session: Session,
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[] | null,
  share: SharedGroup | null,
) => void;

/**
 * Subscriptions and publish routing. One trie holds normal subscriptions (key = client id) and
 * share groups (key = group). Overlapping subscriptions of one session produce one delivery
 * with the highest QoS and every Subscription Identifier [MQTT-3.3.4-2, -3, -5].
 */
export class Router {
  private readonly trie = new SubscriptionTrie<Entry>();
  private readonly groups = new Map<string, SharedGroup>();
  private readonly strategy: SharedStrategy;
  private readonly deliver: DeliverFn;
  // Per-publish scratch state, reused so routing allocates nothing in the common case.
  private epoch = 0;
  private current: Message | null = null;
  private readonly matchedSessions: Session[] = [];
  private readonly matchedGroups: SharedGroup[] = [];
  private readonly onMatchBound: (key: string, entry: Entry) => void;

  constructor(strategy: SharedStrategy, deliver: DeliverFn) {
    this.strategy = strategy;
    this.deliver = deliver;
    this.onMatchBound = this.onMatch.bind(this);
  }

  /** True while a message is being routed (subscriptions must not change then). */
  get routing(): boolean {
    return (
      this.current !== null || this.matchedSessions.length > 0 || this.matchedGroups.length > 0
    );
  }

  get subscriptionCount(): number {
    return this.trie.size;
  }

  subscribe(session: Session, sub: Subscription): void {
    if (sub.shareGroup === null) {
      this.trie.add(sub.matchFilter, session.clientId, { kind: 0, session, sub });
      return;
    }
    const groupId = `${sub.shareGroup}\u0000${sub.matchFilter}`;
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new SharedGroup(sub.shareGroup, sub.matchFilter);
      this.groups.set(groupId, group);
      this.trie.add(sub.matchFilter, group.key, group);
    }
    const existing = group.members.findIndex((m) => m.session === session);
    if (existing >= 0) group.members[existing] = { session, sub };
    else group.members.push({ session, sub });
  }

  unsubscribe(session: Session, sub: Subscription): void {
    if (sub.shareGroup === null) {
      this.trie.remove(sub.matchFilter, session.clientId);
      return;
    }
    const groupId = `${sub.shareGroup}\u0000${sub.matchFilter}`;
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    const index = group.members.findIndex((m) => m.session === session);
    if (index >= 0) group.members.splice(index, 1);
    if (group.members.length === 0) {
      this.groups.delete(groupId);
      this.trie.remove(sub.matchFilter, group.key);
    }
  }

  /** Routes a message to every matching subscription; returns how many deliveries were made. */
  route(message: Message): number {
    assert(!this.routing, "route is not re-entrant"); // also not from a DeliverFn
    this.epoch++;
    this.current = message;
    try {
      this.trie.match(message.topic, this.onMatchBound);
    } finally {
      this.current = null;
    }
    const sessions = this.matchedSessions;
    const groups = this.matchedGroups;
    let count = 0;
    // Copy-free hand-off: deliveries may not re-enter route() before these arrays are drained.
    try {
      for (let i = 0; i < sessions.length; i++) {
        const s = sessions[i];
        const qos = Math.min(message.qos, s.matchQos) as QoS;
        this.deliver(s, message, qos, s.matchRetain, s.matchSubscriptionIds, null);
        s.matchSubscriptionIds = null;
        count++;
      }
      sessions.length = 0;
      for (let i = 0; i < groups.length; i++) {
        if (this.deliverShared(groups[i], message, null)) count++;
      }
    } finally {
      // Drained even if a delivery throws (a bug the connection survives): leftovers would
      // make every later route() fail its re-entrancy assert.
      sessions.length = 0;
      groups.length = 0;
    }
    return count;
  }

  /**
   * Delivers a message to one member of the group other than `exclude` (used to hand a
   * departed member's inflight messages to another member). Returns false if none is left.
   */
  deliverShared(group: SharedGroup, message: Message, exclude: Session | null): boolean {
    const member = this.pickMember(group, message, exclude);
    if (member === null) return false;
    const qos = Math.min(message.qos, member.sub.qos) as QoS;
    const ids = member.sub.subscriptionId !== 0 ? [member.sub.subscriptionId] : null;
    const retain = member.sub.retainAsPublished && message.retain;
    this.deliver(member.session, message, qos, retain, ids, group);
    return true;
  }

  /** Whether deliverShared(group, _, exclude) would find a member (same rules as pickMember). */
  hasMember(group: SharedGroup, exclude: Session | null): boolean {
    for (const m of group.members) {
      if (m.session === exclude) continue;
      if (m.session.link !== null || m.session.expiryIntervalS > 0) return true;
    }
    return false;
  }

  private onMatch(_key: string, entry: Entry): void {
    const message = this.current as Message;
    if (entry.kind === 1) {
      if (entry.matchEpoch !== this.epoch) {
        entry.matchEpoch = this.epoch;
        this.matchedGroups.push(entry);
      }
      return;
    }
    const { session, sub } = entry;
    if (sub.noLocal && session.clientId === message.origin) return; // [MQTT-3.8.3-3]
    const retain = sub.retainAsPublished && message.retain; // [MQTT-3.3.1-12, -13]
    if (session.matchEpoch !== this.epoch) {
      session.matchEpoch = this.epoch;
      session.matchQos = sub.qos;
      session.matchRetain = retain;
      session.matchSubscriptionIds = sub.subscriptionId !== 0 ? [sub.subscriptionId] : null;
      this.matchedSessions.push(session);
      return;
    }
    if (sub.qos > session.matchQos) session.matchQos = sub.qos;
    if (retain) session.matchRetain = true;
    if (sub.subscriptionId !== 0) {
      if (session.matchSubscriptionIds === null) session.matchSubscriptionIds = [];
      session.matchSubscriptionIds.push(sub.subscriptionId);
    }
  }

  /**
   * Connected members are preferred; an offline persistent member queues only if none is. A
   * connected member whose Maximum Packet Size the message surely exceeds would have to drop
   * it [MQTT-3.1.2-25]: it is chosen only when no other member can take the message.
   */
  private pickMember(
    group: SharedGroup,
    message: Message,
    exclude: Session | null,
  ): { session: Session; sub: Subscription } | null {
    const members = group.members;
    const n = members.length;
    if (n === 0) return null;
    let start: number;
    if (this.strategy === "random") start = Math.floor(Math.random() * n);
    else if (this.strategy === "hash_clientid") start = hashString(message.origin) % n;
    else start = group.next++ % n;
    if (group.next >= 0x3fffffff) group.next = 0;
    let fallback: { session: Session; sub: Subscription } | null = null;
    let tooSmall: { session: Session; sub: Subscription } | null = null;
    const bytes = minPublishBytes(message);
    for (let i = 0; i < n; i++) {
      const m = members[(start + i) % n];
      if (m.session === exclude) continue;
      const link = m.session.link;
      if (link !== null) {
        const max = link.clientMaxPacketBytes;
        if (max === 0 || max >= bytes) return m;
        tooSmall ??= m;
      } else if (fallback === null && m.session.expiryIntervalS > 0) fallback = m;
    }
    return fallback ?? tooSmall;
  }
}

/** A lower bound on the PUBLISH carrying `message`: fixed header, topic, payload. */
function minPublishBytes(message: Message): number {
  // A string's UTF-8 form has at least as many bytes as it has UTF-16 code units.
  return 4 + message.topic.length + message.payload.length;
}

/** FNV-1a: stable across restarts, so a publisher keeps landing on the same member. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
