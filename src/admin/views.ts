/**
 * What the admin API shows of the MQTT broker: plain JSON views built from the broker's state
 * when a request asks, never kept up to date on the hot path. Read-only except kickClient and
 * deleteRetained.
 */
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import { ConnectionState, type MqttConnection } from "../broker/mqtt/connection.ts";
import type { Message } from "../broker/mqtt/message.ts";
import type { Session } from "../broker/mqtt/session.ts";
import { ReasonCode } from "../protocol/mqtt/constants.ts";
import { PAYLOAD_PREVIEW_BYTES_MAX } from "./limits.ts";
import { type Compare, sortedWindow } from "./page-select.ts";

/** Session Expiry Interval meaning "never expires" [MQTT-3.1.2-... 0xFFFFFFFF]. */
const EXPIRY_NEVER_S = 0xffffffff;

export interface ClientView {
  clientId: string;
  username: string | null;
  connected: boolean;
  remoteAddress: string | null;
  protocolVersion: number | null;
  keepAliveS: number | null;
  connectedAt: string | null;
  disconnectedAt: string | null;
  sessionExpiryIntervalS: number;
  inflightCount: number;
  queuedCount: number;
  subscriptionsCount: number;
}

export interface SessionView {
  clientId: string;
  connected: boolean;
  expiryIntervalS: number;
  disconnectedAt: string | null;
  /** When an offline session ends; null while connected or if it never expires. */
  expiresAt: string | null;
  inflightCount: number;
  queuedCount: number;
  subscriptionsCount: number;
}

export interface SubscriptionView {
  clientId: string;
  filter: string;
  shareGroup: string | null;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number | null;
}

export interface RetainedView {
  topic: string;
  qos: number;
  payloadBytes: number;
  /** The first PAYLOAD_PREVIEW_BYTES_MAX bytes, base64. */
  payloadPreview: string;
  previewTruncated: boolean;
  expiresAt: string | null;
}

export interface Page<T> {
  data: T[];
  meta: { total: number; offset: number; limit: number; nextOffset: number | null };
}

function isoOrNull(ms: number): string | null {
  return ms === 0 ? null : new Date(ms).toISOString();
}

/** The live, CONNECTED connection of a session, or null. */
export function liveConnection(session: Session): MqttConnection | null {
  const conn = session.link as MqttConnection | null;
  return conn !== null && conn.state === ConnectionState.CONNECTED ? conn : null;
}

export function clientView(session: Session): ClientView {
  const conn = liveConnection(session);
  return {
    clientId: session.clientId,
    username: conn?.username ?? null,
    connected: conn !== null,
    remoteAddress: conn?.remoteAddress ?? null,
    protocolVersion: conn?.protocolVersion ?? null,
    keepAliveS: conn === null ? null : conn.keepAliveMs / 1000,
    connectedAt: conn === null ? null : isoOrNull(conn.openedAtMs),
    disconnectedAt: conn === null ? isoOrNull(session.disconnectedAtMs) : null,
    sessionExpiryIntervalS: session.expiryIntervalS,
    inflightCount: session.inflightCount,
    queuedCount: session.queueLength,
    subscriptionsCount: session.subscriptionCount,
  };
}

export function sessionView(session: Session): SessionView {
  const connected = liveConnection(session) !== null;
  const expires =
    !connected && session.expiryIntervalS !== EXPIRY_NEVER_S && session.disconnectedAtMs !== 0;
  return {
    clientId: session.clientId,
    connected,
    expiryIntervalS: session.expiryIntervalS,
    disconnectedAt: connected ? null : isoOrNull(session.disconnectedAtMs),
    expiresAt: expires
      ? isoOrNull(session.disconnectedAtMs + session.expiryIntervalS * 1000)
      : null,
    inflightCount: session.inflightCount,
    queuedCount: session.queueLength,
    subscriptionsCount: session.subscriptionCount,
  };
}

export function subscriptionViews(session: Session): SubscriptionView[] {
  const views: SubscriptionView[] = [];
  for (const sub of session.subscriptions.values()) {
    views.push({
      clientId: session.clientId,
      filter: sub.filter,
      shareGroup: sub.shareGroup,
      qos: sub.qos,
      noLocal: sub.noLocal,
      retainAsPublished: sub.retainAsPublished,
      retainHandling: sub.retainHandling,
      subscriptionId: sub.subscriptionId === 0 ? null : sub.subscriptionId,
    });
  }
  return views;
}

export function retainedView(topic: string, message: Message): RetainedView {
  const payload = message.payload;
  const shown = payload.subarray(0, PAYLOAD_PREVIEW_BYTES_MAX);
  return {
    topic,
    qos: message.qos,
    payloadBytes: payload.length,
    payloadPreview: shown.toString("base64"),
    previewTruncated: shown.length < payload.length,
    expiresAt: isoOrNull(message.expiresAtMs),
  };
}

/** One page of `items` (already filtered and in their final order). */
export function paginate<T>(items: T[], offset: number, limit: number): Page<T> {
  const data = items.slice(offset, offset + limit);
  const end = offset + data.length;
  return {
    data,
    meta: { total: items.length, offset, limit, nextOffset: end < items.length ? end : null },
  };
}

export function byClientId(a: { clientId: string }, b: { clientId: string }): number {
  return a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0;
}

/**
 * One page of `items` in `compare` order: the page is selected, not the whole list sorted
 * (page-select.ts), which keeps a page of 100,000 sessions cheap. Reorders `items`.
 */
export function sortedPage<T>(
  items: T[],
  compare: Compare<T>,
  offset: number,
  limit: number,
): Page<T> {
  const data = sortedWindow(items, compare, offset, limit);
  const end = offset + data.length;
  return {
    data,
    meta: { total: items.length, offset, limit, nextOffset: end < items.length ? end : null },
  };
}

/** One page of the sessions `keep` accepts, by client id (offsets stay meaningful). */
export function sessionPage(
  broker: MqttBroker,
  keep: (s: Session) => boolean,
  offset: number,
  limit: number,
): Page<Session> {
  const sessions: Session[] = [];
  for (const session of broker.sessions.values()) if (keep(session)) sessions.push(session);
  return sortedPage(sessions, byClientId, offset, limit);
}

/** Sessions sorted by client id, so offsets stay meaningful between pages. */
export function sortedSessions(broker: MqttBroker, keep: (s: Session) => boolean): Session[] {
  const sessions: Session[] = [];
  for (const session of broker.sessions.values()) if (keep(session)) sessions.push(session);
  return sessions.sort(byClientId);
}

/**
 * Retained messages matching `filter` (every one, `$` topics included, when null), sorted by
 * topic; expired ones are left out (the broker deletes them lazily).
 */
export function matchingRetained(broker: MqttBroker, filter: string | null): RetainedView[] {
  const nowMs = Date.now();
  const found: Array<[string, Message]> = [];
  const visit = (topic: string, message: Message) => {
    if (!message.isExpired(nowMs)) found.push([topic, message]);
  };
  if (filter === null)
    for (const [topic, message] of broker.retained.entries()) visit(topic, message);
  else broker.retained.match(filter, visit);
  found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return found.map(([topic, message]) => retainedView(topic, message));
}

/**
 * Disconnects a connected client: MQTT 5 clients get DISCONNECT 0x98 (Administrative action).
 * Its session stays per its expiry interval. False if the client is not connected.
 */
export function kickClient(broker: MqttBroker, clientId: string): boolean {
  const session = broker.sessions.get(clientId);
  const conn = session === undefined ? null : liveConnection(session);
  if (conn === null) return false;
  broker.logger.info({ clientId }, "client kicked by an administrator");
  conn.disconnect(ReasonCode.ADMINISTRATIVE_ACTION, "administrative action");
  return true;
}
