/**
 * Auto-subscribe as the broker runs it: right after a client's CONNACK, each rule's topic
 * (with `%u` / `%c` filled in) is subscribed for it through the SUBSCRIBE handler's own path
 * (subscribeOne: `$queue/`, `$exclusive/`, rewrite, ACL, limits), so the result is an ordinary
 * subscription, recorded for a persistent session like any other. A rule the session already
 * has a subscription for is left alone (a resumed session keeps what it had; a clean start
 * has nothing). Retained messages follow the rule's retain_handling, as for a SUBSCRIBE.
 * A refused rule (ACL, limits) is skipped and logged; the client is told nothing.
 */
import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { SubscriptionRequest } from "../../../protocol/mqtt/packets.ts";
import type { RuleBook, RuleKind } from "../../../storage/rule-book.ts";
import type { MqttConnection } from "../connection.ts";
import { resolveFilter } from "../filter-prefixes.ts";
import {
  type Granted,
  type RetainedRequest,
  recordSubscriptions,
  subscribeOne,
  undo,
} from "../handlers/subscribe.ts";
import { type CompiledAutoSubscribe, compileAutoSubscribe, topicFor } from "./auto-subscribe.ts";
import { API_RULES_MAX } from "./limits.ts";
import { AutoSubscribeRuleSpecSchema } from "./rule-schema.ts";
import type { AutoSubscribeRule, AutoSubscribeRuleSpec } from "./types.ts";

export type AutoSubscribeBook = RuleBook<AutoSubscribeRuleSpec, AutoSubscribeRule>;

export const AUTO_SUBSCRIBE_RULE_KIND: RuleKind<AutoSubscribeRuleSpec, AutoSubscribeRule> = {
  noun: "auto-subscribe rule",
  section: "[mqtt_auto_subscribe]",
  apiRulesMax: API_RULES_MAX,
  schema: AutoSubscribeRuleSpecSchema,
  ruleOf: (id, source, spec) => ({
    id,
    source,
    topic: spec.topic,
    qos: spec.qos,
    no_local: spec.no_local,
    retain_as_published: spec.retain_as_published,
    retain_handling: spec.retain_handling,
  }),
};

const NO_RULES: readonly CompiledAutoSubscribe[] = [];

export class AutoSubscribe {
  readonly rules: AutoSubscribeBook;
  /** The rules in order, ready to fill in; empty when none (the CONNECT path's check). */
  compiled: readonly CompiledAutoSubscribe[] = NO_RULES;

  constructor(rules: AutoSubscribeBook) {
    this.rules = rules;
    rules.watch((list) => {
      this.compiled = list.length === 0 ? NO_RULES : list.map(compileAutoSubscribe);
    });
  }
}

function requestOf(rule: AutoSubscribeRule, topicFilter: string): SubscriptionRequest {
  return {
    topicFilter,
    qos: rule.qos,
    noLocal: rule.no_local,
    retainAsPublished: rule.retain_as_published,
    retainHandling: rule.retain_handling,
  };
}

/** Subscribes a client that has just been sent its CONNACK to every rule's topic. */
export function applyAutoSubscribe(conn: MqttConnection): void {
  const auto = conn.broker.autoSubscribe;
  const session = conn.session;
  if (auto === null || auto.compiled.length === 0 || session === null) return;
  const logger = conn.broker.logger;
  const retained: RetainedRequest[] = [];
  const granted: Granted[] = [];
  for (const compiled of auto.compiled) {
    const rule = compiled.rule.id;
    const filter = topicFor(compiled, conn.clientId, conn.username);
    if (filter === null) {
      logger.debug({ clientId: conn.clientId, rule }, "auto-subscribe skipped: no safe value");
      continue;
    }
    const key = resolveFilter(conn, filter);
    if (typeof key === "string" && session.subscriptions.has(key)) continue;
    const code = subscribeOne(
      conn,
      session,
      requestOf(compiled.rule, filter),
      0,
      retained,
      granted,
    );
    if (code === null) return; // the connection was closed
    if (code >= ReasonCode.UNSPECIFIED_ERROR) {
      logger.info(
        { clientId: conn.clientId, rule, filter, reasonCode: code },
        "auto-subscribe refused",
      );
    } else {
      logger.debug({ clientId: conn.clientId, rule, filter, qos: code }, "auto-subscribed");
    }
  }
  if (granted.length === 0) return;
  conn.answerAfter(
    recordSubscriptions(conn, session, granted),
    () => {
      for (const r of retained) conn.broker.sendRetained(conn, r.filter, r.qos, 0);
    },
    (err) => {
      logger.warn({ err, clientId: conn.clientId }, "auto-subscriptions not stored: undone");
      undo(conn, session, granted);
    },
  );
}
