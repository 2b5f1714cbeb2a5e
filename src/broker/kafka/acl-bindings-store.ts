/**
 * CreateAcls, DescribeAcls and DeleteAcls on top of the [kafka_acl] rule book: the same rules the
 * admin API and `robustmq ctl kafka acl` manage, seen and changed as Kafka bindings
 * (security/acl/kafka-acl-bindings.ts maps them). docs/kafka.md "Managing ACLs with Kafka tools".
 *
 * Order: a DENY made through Kafka goes before every API rule, an ALLOW after every one, so a
 * Kafka DENY always comes before a Kafka ALLOW (Kafka's "DENY wins"); config file rules stay
 * first. Kafka requests change the book one at a time, so the check for an identical rule and
 * the store that follows see the same list (Kafka creates a binding that exists as a no-op,
 * unless it is a DENY stuck behind an API ALLOW: rulesInPlace).
 */
import { KAFKA_ACL_CHANGES_PER_REQUEST_MAX } from "../../config/limits.ts";
import { ErrorCode, RobustMQError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import type { KafkaAclRuleSpec } from "../../security/acl/kafka-acl.ts";
import {
  type AclBinding,
  type AclBindingFilter,
  type AdminPart,
  bindingsOfRule,
  filterMatches,
  invalidFilter,
  mapCreation,
  operationName,
  specKey,
  TOPIC_ADMIN_PARTS,
} from "../../security/acl/kafka-acl-bindings.ts";
import type { KafkaAclRule, KafkaAclRuleBook } from "../../security/acl/kafka-rule-book.ts";

export interface AclOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface AclDeletion extends AclOutcome {
  readonly binding: AclBinding;
}

export interface AclFilterDeletions extends AclOutcome {
  readonly deletions: readonly AclDeletion[];
}

/** Who changes the rules, for the log lines. */
export interface AclChanger {
  readonly username: string | null;
  readonly remote: string;
}

const DONE: AclOutcome = { errorCode: KafkaError.NONE, errorMessage: null };

function invalid(errorMessage: string): AclOutcome {
  return { errorCode: KafkaError.INVALID_REQUEST, errorMessage };
}

const TOO_MANY = `at most ${KAFKA_ACL_CHANGES_PER_REQUEST_MAX} ACL changes per request`;

/**
 * The specs a creation may take as already there: any config rule and any API ALLOW (a copy
 * added last would never decide first), but an API DENY only when no API ALLOW comes before it.
 * A DENY the admin API put behind an ALLOW is stored again, first, so that DENY still wins.
 */
function rulesInPlace(rules: readonly KafkaAclRule[]): Set<string> {
  const keys = new Set<string>();
  let allowSeen = false;
  for (const rule of rules) {
    if (rule.source === "config" || rule.permission === "allow" || !allowSeen) {
      keys.add(specKey(rule));
    }
    if (rule.source === "api" && rule.permission === "allow") allowSeen = true;
  }
  return keys;
}

export class KafkaAclBindingStore {
  readonly #book: KafkaAclRuleBook;
  readonly #logger: Logger;
  /** The change in progress; the next Kafka request's change starts after it settles. */
  #tail: Promise<unknown>;

  constructor(book: KafkaAclRuleBook, logger: Logger) {
    this.#book = book;
    this.#logger = logger;
    this.#tail = Promise.resolve();
  }

  /** Every binding the rules amount to that matches, once each (rule order is not shown). */
  describe(filter: AclBindingFilter): AclBinding[] {
    const seen = new Set<string>();
    const found: AclBinding[] = [];
    for (const rule of this.#book.list()) {
      for (const binding of bindingsOfRule(rule)) {
        if (!filterMatches(filter, binding)) continue;
        const key = JSON.stringify(binding);
        if (seen.has(key)) continue;
        seen.add(key);
        found.push(binding);
      }
    }
    return found;
  }

  /** One outcome per binding, in order; each stored rule is on disk and in force. */
  create(bindings: readonly AclBinding[], who: AclChanger): Promise<AclOutcome[]> {
    if (bindings.length > KAFKA_ACL_CHANGES_PER_REQUEST_MAX) {
      this.#logger.info({ count: bindings.length, ...who }, "Kafka ACL creations refused");
      return Promise.resolve(bindings.map(() => invalid(TOO_MANY)));
    }
    return this.#serialize(() => this.#create(bindings, who));
  }

  /** Per filter, the bindings it matched, each removed or refused with a reason. */
  delete(filters: readonly AclBindingFilter[], who: AclChanger): Promise<AclFilterDeletions[]> {
    if (filters.length > KAFKA_ACL_CHANGES_PER_REQUEST_MAX) {
      this.#logger.info({ count: filters.length, ...who }, "Kafka ACL deletions refused");
      return Promise.resolve(filters.map(() => ({ ...invalid(TOO_MANY), deletions: [] })));
    }
    return this.#serialize(() => this.#delete(filters, who));
  }

  async #create(bindings: readonly AclBinding[], who: AclChanger): Promise<AclOutcome[]> {
    const mappings = bindings.map(mapCreation);
    // A topic `admin` rule is made only when CREATE, DELETE, ALTER and ALTER_CONFIGS all ask for it.
    const parts = new Map<string, Set<AdminPart>>();
    for (const mapping of mappings) {
      if (!mapping.ok || mapping.part === null) continue;
      const key = specKey(mapping.spec);
      parts.set(key, (parts.get(key) ?? new Set<AdminPart>()).add(mapping.part));
    }
    const outcomes: AclOutcome[] = new Array<AclOutcome>(bindings.length).fill(DONE);
    const wanted = new Map<string, { spec: KafkaAclRuleSpec; indexes: number[] }>();
    for (const [index, mapping] of mappings.entries()) {
      if (!mapping.ok) {
        outcomes[index] = this.#refuseCreation(bindings[index], mapping.message, who);
        continue;
      }
      const key = specKey(mapping.spec);
      if (mapping.part !== null && (parts.get(key)?.size ?? 0) < TOPIC_ADMIN_PARTS.length) {
        outcomes[index] = this.#refuseCreation(
          bindings[index],
          `RobustMQ cannot store this ACL exactly: ${operationName(mapping.part)} on a topic is part of the admin action, which is CREATE, DELETE, ALTER and ALTER_CONFIGS together; create all four in one request, or use ALL`,
          who,
        );
        continue;
      }
      const entry = wanted.get(key) ?? { spec: mapping.spec, indexes: [] };
      entry.indexes.push(index);
      wanted.set(key, entry);
    }
    const existing = rulesInPlace(this.#book.list());
    for (const [key, { spec, indexes }] of wanted) {
      const outcome = existing.has(key) ? DONE : await this.#store(spec, who);
      for (const index of indexes) outcomes[index] = outcome;
    }
    return outcomes;
  }

  #refuseCreation(binding: AclBinding, reason: string, who: AclChanger): AclOutcome {
    this.#logger.info({ binding, reason, ...who }, "Kafka ACL creation refused");
    return invalid(reason);
  }

  async #store(spec: KafkaAclRuleSpec, who: AclChanger): Promise<AclOutcome> {
    try {
      const rule = await this.#book.add(spec, spec.permission === "deny" ? { first: true } : {});
      this.#logger.info({ rule, ...who }, "Kafka ACL rule added through CreateAcls");
      return DONE;
    } catch (err) {
      return this.#failure(err, { rule: spec, ...who }, "Kafka ACL rule not added");
    }
  }

  async #delete(
    filters: readonly AclBindingFilter[],
    who: AclChanger,
  ): Promise<AclFilterDeletions[]> {
    const rules = this.#book.list();
    const bindings = rules.map(bindingsOfRule);
    const problems = filters.map(invalidFilter);
    for (const [f, reason] of problems.entries()) {
      if (reason === null) continue;
      this.#logger.warn(
        { filter: filters[f], reason, ...who },
        "Kafka ACL deletion filter refused",
      );
    }
    // Per filter the (rule, binding) pairs it matches; per rule, which of its bindings any does.
    const matches = filters.map((filter, f) => {
      const found: Array<{ rule: number; binding: AclBinding }> = [];
      if (problems[f] !== null) return found;
      for (const [rule, ofRule] of bindings.entries()) {
        for (const binding of ofRule) {
          if (filterMatches(filter, binding)) found.push({ rule, binding });
        }
      }
      return found;
    });
    const covered = new Map<number, Set<AclBinding>>();
    for (const found of matches) {
      for (const { rule, binding } of found) {
        covered.set(rule, (covered.get(rule) ?? new Set<AclBinding>()).add(binding));
      }
    }
    if (covered.size > KAFKA_ACL_CHANGES_PER_REQUEST_MAX) {
      const refusal = invalid(`the filters match ${covered.size} rules; ${TOO_MANY}`);
      this.#logger.info({ rules: covered.size, ...who }, "Kafka ACL deletions refused");
      return filters.map((_, f) => ({
        ...(problems[f] === null ? refusal : invalid(problems[f])),
        deletions: [],
      }));
    }
    const outcomes = new Map<number, AclOutcome | "gone">();
    for (const [index, matched] of covered) {
      const rule = rules[index];
      outcomes.set(index, await this.#remove(rule, matched.size < bindings[index].length, who));
    }
    return filters.map((_, f) => {
      const problem = problems[f];
      if (problem !== null) return { ...invalid(problem), deletions: [] };
      // Rules saying the same thing share a binding: each binding and outcome is answered once.
      const answered = new Map<string, AclDeletion>();
      for (const { rule, binding } of matches[f]) {
        const outcome = outcomes.get(rule);
        if (outcome === undefined || outcome === "gone") continue;
        const deletion = { ...outcome, binding };
        answered.set(JSON.stringify(deletion), deletion);
      }
      return { ...DONE, deletions: [...answered.values()] };
    });
  }

  /** "gone": another caller removed the rule first, so this request removed nothing. */
  async #remove(
    rule: KafkaAclRule,
    partly: boolean,
    who: AclChanger,
  ): Promise<AclOutcome | "gone"> {
    if (partly && rule.source === "api") {
      return invalid(
        `rule ${rule.id} is the admin action on a topic (CREATE, DELETE, ALTER and ALTER_CONFIGS together): remove all four in one request, or delete the rule with the admin API`,
      );
    }
    try {
      // Config file rules throw here, with the admin API's own words.
      if (!(await this.#book.delete(rule.id))) return "gone";
      this.#logger.info({ rule, ...who }, "Kafka ACL rule deleted through DeleteAcls");
      return DONE;
    } catch (err) {
      return this.#failure(err, { rule, ...who }, "Kafka ACL rule not deleted");
    }
  }

  /** A refusal of the rule book (limits, config rules) is the client's; anything else is ours. */
  #failure(err: unknown, fields: object, message: string): AclOutcome {
    if (err instanceof RobustMQError && err.code === ErrorCode.ADMIN_INVALID_REQUEST) {
      this.#logger.info({ ...fields, reason: err.message }, message);
      return invalid(err.message);
    }
    this.#logger.error({ err, ...fields }, message);
    return { errorCode: KafkaError.UNKNOWN_SERVER_ERROR, errorMessage: "The ACL store failed." };
  }

  #serialize<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(change);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
