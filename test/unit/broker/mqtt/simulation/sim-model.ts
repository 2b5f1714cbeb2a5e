/**
 * What the simulated clients observed, and the checker that judges it against what MQTT
 * guarantees. Everything here is the clients' view (the broker is a black box to it): the
 * logical clock `at` orders client-side events (a SUBACK read, a PUBLISH sent, a PUBACK read),
 * which is enough to decide which deliveries were owed.
 */
import assert from "node:assert/strict";

export type QoS = 0 | 1 | 2;

/** One PUBLISH a client sent (resends share the record). */
export interface PublishRecord {
  /** "publisher/seq", also the payload; "" payloads (retained deletes) have a key but no body. */
  readonly key: string;
  readonly publisher: string;
  readonly seq: number;
  readonly topic: string;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly empty: boolean;
  /** Event at which the first PUBLISH left the client. */
  readonly sentAt: number;
  /** Event at which the PUBACK (QoS 1) or PUBREC (QoS 2) was read; -1 = never. */
  ackedAt: number;
  /** Simulated time of the first send and of the acknowledgement (-1 = never). */
  readonly sentAtMs: number;
  ackedAtMs: number;
  /** v5 Message Expiry Interval it was published with; 0 = none. */
  readonly expiryS: number;
  /** Padding after the key in the payload (`key|xxx`), to exceed small Maximum Packet Sizes. */
  readonly padBytes: number;
  /**
   * Sent again (DUP) on a new connection: QoS 1 resends are new messages to the broker, taken
   * after later ones of the same publisher, so order says nothing about them.
   */
  resent: boolean;
  /**
   * Resent under a session the publisher could not tell from its own: "present" after a
   * CONNECT that went unanswered, which may have found the old session expired and made a new
   * one. That session does not know the QoS 2 packet id, so the broker rightly takes the
   * resend as a new message.
   */
  mayRepeat: boolean;
}

/** The record key a payload carries: `key` or `key|padding`. */
export function keyOfPayload(payload: string): string {
  const bar = payload.indexOf("|");
  return bar < 0 ? payload : payload.slice(0, bar);
}

/** Who may legitimately miss an owed message (see Checker.checkDeliveries). */
export interface OwedExemptions {
  /** Clients announcing a Maximum Packet Size: padded messages may be too large for them. */
  readonly smallClients: ReadonlySet<string>;
  /**
   * `client|key` of each delivery the broker dropped from a full session queue where it may
   * (offline, or stuck: see World.onQueueDrop): exactly those, no others.
   */
  readonly dropped: ReadonlySet<string>;
}

/** A subscription as the client knows it: from its SUBACK until it was changed or dropped. */
export interface SubInterval {
  readonly client: string;
  readonly generation: number;
  /** As subscribed, with any `$share/{group}/` prefix: also the share key. */
  readonly filter: string;
  readonly matchFilter: string;
  readonly shared: boolean;
  readonly qos: QoS;
  readonly noLocal: boolean;
  /** Event at which the SUBACK was read. */
  readonly confirmedAt: number;
  /** Event at which an UNSUBSCRIBE or a replacing SUBSCRIBE was sent; Infinity if neither. */
  endedAt: number;
}

/** Tally of one message at one client. */
interface Tally {
  /** Live (RETAIN 0) deliveries to the application, after QoS 2 de-duplication. */
  live: number;
  /** Highest QoS of any live PUBLISH of it received. */
  liveQosMax: number;
  liveQosMin: number;
}

/** MQTT topic filter matching (MQTT 5 section 4.7), written apart from the broker's trie. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A bounded record of the last events, printed with a failure. */
export class Trace {
  private readonly lines: string[] = [];
  private readonly capacity: number;
  at = 0;
  nowMs: () => number;

  constructor(capacity: number, nowMs: () => number) {
    assert.ok(capacity > 0);
    this.capacity = capacity;
    this.nowMs = nowMs;
  }

  /** Records one event; returns its logical time. */
  add(text: string): number {
    this.at++;
    if (this.lines.length === this.capacity) this.lines.shift();
    this.lines.push(`#${this.at} t=${this.nowMs()}ms ${text}`);
    return this.at;
  }

  tail(count: number): string {
    return this.lines.slice(-count).join("\n");
  }
}

export class Checker {
  readonly publishes = new Map<string, PublishRecord>();
  readonly intervals: SubInterval[] = [];
  readonly violations: string[] = [];
  /** Per client: every filter it ever asked for (confirmed or not), with the highest QoS. */
  private readonly requested = new Map<string, Map<string, QoS>>();
  private readonly tallies = new Map<string, Tally>();
  /** `client|key` of shared QoS 2 messages in flight when the client's session ended. */
  private readonly endedWith = new Set<string>();
  /** Last first-delivered seq per subscriber/generation/publisher/topic/QoS (ordering). */
  private readonly lastSeq = new Map<string, number>();
  private readonly trace: Trace;
  /** How much the final checks covered: owed deliveries checked, QoS 2 at most once. */
  private owedDirect = 0;
  private owedShared = 0;
  private exactlyOnce = 0;

  constructor(trace: Trace) {
    this.trace = trace;
  }

  coverage(): string {
    return `owed=${this.owedDirect} owedShared=${this.owedShared} qos2Checked=${this.exactlyOnce}`;
  }

  fail(text: string): void {
    const line = `#${this.trace.at} ${text}`;
    this.trace.add(`VIOLATION ${text}`);
    if (this.violations.length < 50) this.violations.push(line);
  }

  check(condition: boolean, text: () => string): void {
    if (!condition) this.fail(text());
  }

  onPublishSent(record: PublishRecord): void {
    assert.ok(!this.publishes.has(record.key), `publish key ${record.key} reused`);
    this.publishes.set(record.key, record);
  }

  onRequested(client: string, matchFilter: string, qos: QoS): void {
    let filters = this.requested.get(client);
    if (filters === undefined) {
      filters = new Map();
      this.requested.set(client, filters);
    }
    filters.set(matchFilter, Math.max(qos, filters.get(matchFilter) ?? 0) as QoS);
  }

  /** Highest QoS this client could have any subscription matching `topic` at; -1 = none. */
  private requestedQosMax(client: string, topic: string): number {
    let max = -1;
    for (const [filter, qos] of this.requested.get(client) ?? []) {
      if (topicMatches(filter, topic)) max = Math.max(max, qos);
    }
    return max;
  }

  /**
   * A PUBLISH the client read. `fresh` = handed to the application (false for a QoS 2
   * duplicate it had already taken under the same packet identifier).
   */
  onReceived(
    client: string,
    generation: number,
    publish: { topic: string; qos: QoS; retain: boolean; payload: string; dup: boolean },
    fresh: boolean,
  ): void {
    const what = () =>
      `${client} got ${publish.topic} q${publish.qos} r${publish.retain ? 1 : 0} ` +
      `dup${publish.dup ? 1 : 0} "${publish.payload}"`;
    const maxQos = this.requestedQosMax(client, publish.topic);
    this.check(maxQos >= 0, () => `${what()}: no subscription of it matches`);
    this.check(publish.qos <= maxQos, () => `${what()}: above every granted QoS (${maxQos})`);
    if (publish.payload === "") return; // a retained delete: nothing to attribute
    const record = this.publishes.get(keyOfPayload(publish.payload));
    if (record === undefined) {
      this.fail(`${what()}: no client published it`);
      return;
    }
    this.check(record.topic === publish.topic, () => `${what()}: published on ${record.topic}`);
    this.check(publish.qos <= record.qos, () => `${what()}: above its publish QoS ${record.qos}`);
    if (publish.retain) {
      this.check(record.retain, () => `${what()}: RETAIN set on a message published without`);
      return; // a retained replay after a SUBSCRIBE: not a live delivery
    }
    const key = `${client}|${record.key}`;
    let tally = this.tallies.get(key);
    if (tally === undefined) {
      tally = { live: 0, liveQosMax: 0, liveQosMin: 2 };
      this.tallies.set(key, tally);
    }
    tally.liveQosMax = Math.max(tally.liveQosMax, publish.qos);
    tally.liveQosMin = Math.min(tally.liveQosMin, publish.qos);
    if (!fresh) return;
    tally.live++;
    if (tally.live > 1) {
      this.check(record.qos !== 0, () => `${what()}: QoS 0 message delivered ${tally.live} times`);
      this.check(
        tally.liveQosMax < 2 || record.mayRepeat,
        () => `${what()}: QoS 2 delivery handed to the application ${tally.live} times`,
      );
      return;
    }
    if (publish.qos > 0 && !record.topic.startsWith("s/") && !record.resent)
      this.checkOrder(client, generation, record);
  }

  /** [MQTT-4.6.0-6] per publisher, topic and QoS, first deliveries keep publish order. */
  private checkOrder(client: string, generation: number, record: PublishRecord): void {
    const key = `${client}|${generation}|${record.publisher}|${record.topic}|${record.qos}`;
    const last = this.lastSeq.get(key) ?? -1;
    this.check(
      record.seq > last,
      () => `${client} got ${record.key} on ${record.topic} after ${record.publisher}/${last}`,
    );
    this.lastSeq.set(key, Math.max(last, record.seq));
  }

  /**
   * The broker ended a session with this shared QoS 2 message in flight: it may not send it to
   * another member [MQTT-4.8.2-5], so the message ended with the session.
   */
  onEndedWithSession(client: string, key: string): void {
    this.endedWith.add(`${client}|${key}`);
  }

  private tally(client: string, key: string): Tally | undefined {
    return this.tallies.get(`${client}|${key}`);
  }

  /**
   * At the end, after every client reconnected and acknowledged everything: each message a
   * publisher saw acknowledged reached every subscription that was confirmed before it was
   * sent, lasted until it was acknowledged, and whose session lived on (same generation) to
   * the end; a share group with a member subscribed from before it was sent to the end got
   * it (QoS 1/2), and no share group got it twice (QoS 0 and 2).
   */
  checkDeliveries(
    finalGeneration: ReadonlyMap<string, number>,
    shareOf: ReadonlyMap<string, string>,
    exempt: OwedExemptions,
  ) {
    const live = this.intervals.filter(
      (i) => finalGeneration.get(i.client) === i.generation && !excused(i.client, exempt),
    );
    const small = exempt.smallClients;
    for (const record of this.publishes.values()) {
      // An expiring message may expire before it is owed anywhere [MQTT-3.3.2-5].
      if (record.empty || record.expiryS > 0) continue;
      const shareLive = record.padBytes > 0 ? live.filter((i) => !small.has(i.client)) : live;
      if (record.topic.startsWith("s/")) {
        // Too large for one member: it may be the one chosen, and then it is dropped. Any
        // member: also one whose SUBACK was lost, which the broker counts and the client not.
        const excusedShares = new Set(
          [...shareOf].filter(([client]) => excused(client, exempt, record)).map(([, s]) => s),
        );
        this.checkShared(record, shareLive, shareOf, excusedShares);
      } else this.checkDirect(record, shareLive, exempt.dropped);
    }
  }

  private checkDirect(
    record: PublishRecord,
    live: readonly SubInterval[],
    dropped: ReadonlySet<string>,
  ): void {
    const owed = new Map<string, number>();
    if (record.ackedAt >= 0) {
      for (const i of live) {
        if (i.shared || !stableFor(i, record)) continue;
        if (i.noLocal && i.client === record.publisher) continue;
        owed.set(i.client, Math.max(owed.get(i.client) ?? 0, Math.min(i.qos, record.qos)));
      }
    }
    for (const [client, qos] of owed) {
      if (qos === 0 || dropped.has(`${client}|${record.key}`)) continue;
      this.owedDirect++;
      if (qos === 2) this.exactlyOnce++;
      const tally = this.tally(client, record.key);
      const got = tally?.live ?? 0;
      this.check(
        got >= 1,
        () =>
          `${record.key} (${record.topic} q${record.qos}, acked #${record.ackedAt}) ` +
          `never reached ${client} (owed at QoS ${qos})`,
      );
      if (tally !== undefined) {
        this.check(
          tally.liveQosMin >= qos,
          () => `${record.key} reached ${client} at QoS ${tally.liveQosMin}, granted ${qos}`,
        );
      }
    }
  }

  private checkShared(
    record: PublishRecord,
    live: readonly SubInterval[],
    shareOf: ReadonlyMap<string, string>,
    excusedShares: ReadonlySet<string>,
  ): void {
    const groups = new Map<string, { qos: number; stable: boolean }>();
    for (const i of this.intervals) {
      if (!i.shared || !topicMatches(i.matchFilter, record.topic)) continue;
      if (!groups.has(i.filter)) groups.set(i.filter, { qos: i.qos, stable: false });
    }
    if (record.ackedAt >= 0) {
      for (const i of live) {
        // A member that leaves may leave with the message (it stays in its session, which
        // may end when no member is left to take it over): only one that stays is owed it.
        if (!i.shared || !stableFor(i, record) || i.endedAt !== Number.POSITIVE_INFINITY) continue;
        const group = groups.get(i.filter);
        if (group !== undefined) group.stable = true;
      }
    }
    for (const [share, group] of groups) {
      let delivered = 0;
      for (const [client, clientShare] of shareOf) {
        if (clientShare === share) delivered += this.tally(client, record.key)?.live ?? 0;
      }
      const qos = Math.min(record.qos, group.qos);
      const what = `${record.key} (${record.topic} q${record.qos}) in ${share} (q${group.qos})`;
      // In flight at QoS 2 to a member whose session then ended: it ended with it.
      const leftWith = [...shareOf].some(
        ([client, s]) => s === share && this.endedWith.has(`${client}|${record.key}`),
      );
      if (group.stable && qos > 0 && !excusedShares.has(share) && !leftWith) {
        this.owedShared++;
        if (qos === 2) this.exactlyOnce++;
        this.check(delivered >= 1, () => `${what}: never delivered to the group`);
      }
      if (qos !== 1) {
        this.check(delivered <= 1, () => `${what}: delivered ${delivered} times to the group`);
      }
    }
  }
}

/** A client that may miss this message: by its size, or dropped where the broker may drop. */
function excused(client: string, exempt: OwedExemptions, record?: PublishRecord): boolean {
  if (record === undefined) return false;
  if (exempt.dropped.has(`${client}|${record.key}`)) return true;
  return record.padBytes > 0 && exempt.smallClients.has(client);
}

/** Confirmed before the message was sent and still in place when it was acknowledged. */
function stableFor(interval: SubInterval, record: PublishRecord): boolean {
  return (
    topicMatches(interval.matchFilter, record.topic) &&
    interval.confirmedAt < record.sentAt &&
    interval.endedAt > record.ackedAt
  );
}
