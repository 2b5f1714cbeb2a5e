/**
 * The security layer one broker asks: who may connect (bans, then the authenticator chain),
 * what a client may publish and subscribe to (the ACL, with a per-connection decision cache),
 * and the run-time state behind them (users, API rules, bans), changed through the admin API
 * without a restart. docs/security.md describes it for operators.
 */
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { Acl } from "./acl/acl.ts";
import { AclCache } from "./acl/acl-cache.ts";
import { KafkaAcl } from "./acl/kafka-acl.ts";
import { type KafkaAclRuleBook, loadKafkaAclRuleBook } from "./acl/kafka-rule-book.ts";
import { type AclRuleBook, loadAclRuleBook } from "./acl/rule-book.ts";
import { BuiltInUsers } from "./authn/built-in.ts";
import { type AuthDecision, AuthenticatorChain, allowAnonymousOf } from "./authn/chain.ts";
import { HttpAuthenticator } from "./authn/http.ts";
import { JwtAuthenticator } from "./authn/jwt.ts";
import { BanList } from "./banned/ban-list.ts";
import { FlappingDetector } from "./banned/flapping.ts";
import { SecurityStore } from "./store.ts";
import type { Authenticator, Ban, BanKind, Credentials, Principal } from "./types.ts";

/** How often lapsed bans are removed from the store. */
const BAN_PURGE_INTERVAL_MS = 60_000;

export class Security {
  readonly users: BuiltInUsers;
  readonly acl: Acl;
  readonly aclRules: AclRuleBook;
  /** Kafka clients' topic authorization ([kafka_acl]) and its rule list. */
  readonly kafkaAcl: KafkaAcl;
  readonly kafkaAclRules: KafkaAclRuleBook;
  readonly bans: BanList;
  /** No authenticator and anonymous access: CONNECT needs no asynchronous check. */
  readonly openAccess: boolean;
  /** Disconnects the live clients a new ban covers; set by the broker. Returns how many. */
  kick: (ban: Ban) => number = () => 0;
  readonly #store: SecurityStore;
  readonly #chain: AuthenticatorChain;
  readonly #flapping: FlappingDetector | null;
  readonly #flappingBanMs: number;
  readonly #cacheMaxTopics: number;
  readonly #logger: Logger;
  readonly #purgeTimer: NodeJS.Timeout;

  private constructor(
    store: SecurityStore,
    users: BuiltInUsers,
    chain: AuthenticatorChain,
    acl: Acl,
    aclRules: AclRuleBook,
    kafka: { acl: KafkaAcl; rules: KafkaAclRuleBook },
    bans: BanList,
    config: Config,
    logger: Logger,
  ) {
    this.#store = store;
    this.users = users;
    this.#chain = chain;
    this.acl = acl;
    this.aclRules = aclRules;
    this.kafkaAcl = kafka.acl;
    this.kafkaAclRules = kafka.rules;
    this.bans = bans;
    this.#logger = logger;
    const auth = config.mqtt_auth;
    this.openAccess = auth.authenticators.length === 0 && allowAnonymousOf(auth);
    const flapping = config.mqtt_flapping;
    this.#flapping = flapping.enable
      ? new FlappingDetector({
          maxDisconnects: flapping.max_disconnects,
          windowMs: flapping.window_s * 1000,
        })
      : null;
    this.#flappingBanMs = flapping.ban_s * 1000;
    this.#cacheMaxTopics = config.mqtt_acl.cache_max_topics;
    this.#purgeTimer = setInterval(() => {
      this.#flapping?.prune(Date.now());
      this.bans.purgeExpired(Date.now()).catch((err: unknown) => {
        this.#logger.warn({ err }, "removing lapsed bans failed; retried later");
      });
    }, BAN_PURGE_INTERVAL_MS);
    this.#purgeTimer.unref();
  }

  /** Opens `<data_dir>/security` and builds the configured authenticators. */
  static async open(config: Config, logger: Logger): Promise<Security> {
    const store = SecurityStore.open(config.data_dir);
    try {
      const users = BuiltInUsers.load(store.users);
      const authenticators: Authenticator[] = [];
      for (const name of config.mqtt_auth.authenticators) {
        if (name === "built_in") authenticators.push(users);
        else if (name === "jwt")
          authenticators.push(await JwtAuthenticator.create(config.mqtt_auth_jwt));
        else authenticators.push(new HttpAuthenticator(config.mqtt_auth_http, logger));
      }
      const chain = new AuthenticatorChain(
        authenticators,
        allowAnonymousOf(config.mqtt_auth),
        logger,
      );
      const acl = new Acl(config.mqtt_acl.no_match);
      const aclRules = loadAclRuleBook(store.aclRules, config.mqtt_acl.rules, acl);
      const kafkaAcl = new KafkaAcl([], config.kafka_acl.no_match);
      const kafkaAclRules = loadKafkaAclRuleBook(
        store.kafkaAclRules,
        config.kafka_acl.rules,
        kafkaAcl,
      );
      const kafka = { acl: kafkaAcl, rules: kafkaAclRules };
      const bans = BanList.load(store.bans, Date.now());
      return new Security(store, users, chain, acl, aclRules, kafka, bans, config, logger);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** The ban covering this client, if any. */
  banned(who: { clientId: string; username: string | undefined; ip: string }): Ban | null {
    return this.bans.match(who, Date.now());
  }

  authenticate(credentials: Credentials): Promise<AuthDecision> {
    return this.#chain.authenticate(credentials);
  }

  /** A decision cache for one connection, or null when caching is off. */
  newCache(): AclCache | null {
    return this.#cacheMaxTopics > 0 ? new AclCache(this.#cacheMaxTopics) : null;
  }

  mayPublish(principal: Principal, cache: AclCache | null, topic: string): boolean {
    const acl = this.acl;
    const version = acl.version;
    const known = cache?.get(version, "publish", topic);
    if (known !== undefined) return known;
    const allowed = acl.authorizePublish(principal, topic);
    cache?.set(version, "publish", topic, allowed);
    return allowed;
  }

  /** `filter` without any `$share/<group>/` prefix. */
  maySubscribe(principal: Principal, cache: AclCache | null, filter: string): boolean {
    const acl = this.acl;
    const version = acl.version;
    const known = cache?.get(version, "subscribe", filter);
    if (known !== undefined) return known;
    const allowed = acl.authorizeSubscribe(principal, filter);
    cache?.set(version, "subscribe", filter, allowed);
    return allowed;
  }

  /** Stores a ban and disconnects the live clients it covers; returns how many. */
  async ban(ban: Ban): Promise<number> {
    await this.bans.add(ban);
    const kicked = this.kick(ban);
    this.#logger.info({ kind: ban.kind, value: ban.value, untilMs: ban.untilMs, kicked }, "banned");
    return kicked;
  }

  unban(kind: BanKind, value: string): Promise<boolean> {
    return this.bans.delete(kind, value);
  }

  /** A client disconnected: one that does so too often is banned for a while. */
  onDisconnect(clientId: string): void {
    const flapping = this.#flapping;
    if (flapping === null || clientId === "") return;
    const nowMs = Date.now();
    if (!flapping.onDisconnect(clientId, nowMs)) return;
    const ban: Ban = {
      kind: "client_id",
      value: clientId,
      reason: "flapping",
      createdAtMs: nowMs,
      untilMs: nowMs + this.#flappingBanMs,
    };
    this.ban(ban).catch((err: unknown) => {
      this.#logger.warn({ err, clientId }, "banning a flapping client failed");
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    await this.#store.close();
  }
}
