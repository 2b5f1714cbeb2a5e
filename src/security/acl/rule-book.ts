/**
 * The ACL rule list as the broker runs it: the [mqtt_acl] rules from the config file first
 * (ids "config-1", "config-2", ...; read-only at run time), then the rules added through the
 * admin API, which live in the security store and survive restarts in their order.
 *
 * Order is the LMDB key: a zero-padded position number, so reading the database in key order
 * gives the rule order back. New rules take a position STEP past the last one; inserting
 * before a rule takes the midpoint of the gap, and when a gap is used up every API rule is
 * renumbered in one transaction. A write changes memory (and the Acl) only after LMDB has
 * flushed it, and writes run one at a time, so each sees the order the previous one left.
 */

import { randomBytes } from "node:crypto";
import type { Database } from "lmdb";
import { assert, ErrorCode, RobustMQError } from "../../errors.ts";
import { lmdbWrite } from "../../storage/lmdb-writes.ts";
import type { AclRule, AclRuleSpec } from "../types.ts";
import type { Acl } from "./acl.ts";
import { AclRuleSpecSchema } from "./rule-schema.ts";

/** Rules the admin API may add; the config file's rules do not count. */
export const ACL_API_RULES_MAX = 100_000;
/** Gap between neighbouring positions when numbering afresh: 20 halvings before a renumber. */
const POSITION_STEP = 2 ** 20;
/** Positions stay exact integers and fit the fixed key width. */
const POSITION_MAX = Number.MAX_SAFE_INTEGER;
const POSITION_KEY_DIGITS = 16;
/** Random ids collide with odds of 2^-48 per pair; a few retries make a clash impossible. */
const ID_ATTEMPTS_MAX = 8;
const CONFIG_ID_PREFIX = "config-";

assert(String(POSITION_MAX).length <= POSITION_KEY_DIGITS, "positions fit the key width");
assert(ACL_API_RULES_MAX * POSITION_STEP < POSITION_MAX, "a full renumber fits the positions");

interface ApiEntry {
  readonly rule: AclRule;
  readonly position: number;
}

function positionKey(position: number): string {
  assert(Number.isSafeInteger(position) && position > 0, "position is a positive integer");
  return String(position).padStart(POSITION_KEY_DIGITS, "0");
}

function parsePositionKey(key: string): number {
  if (!/^\d{16}$/.test(key)) {
    throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `ACL store: bad key ${JSON.stringify(key)}`);
  }
  return Number(key);
}

/** The rule with only the spec's fields, in a fixed order, and no `undefined` values. */
function ruleOf(id: string, source: AclRule["source"], spec: AclRuleSpec): AclRule {
  const rule: {
    -readonly [K in keyof AclRule]: AclRule[K];
  } = { id, source, permission: spec.permission, action: spec.action, topic: spec.topic };
  if (spec.username !== undefined) rule.username = spec.username;
  if (spec.client_id !== undefined) rule.client_id = spec.client_id;
  if (spec.ip !== undefined) rule.ip = spec.ip;
  return rule;
}

function specOf(rule: AclRule): AclRuleSpec {
  const { id: _id, source: _source, ...spec } = rule;
  return spec;
}

function validSpec(spec: unknown, code: RobustMQError["code"], what: string): AclRuleSpec {
  const parsed = AclRuleSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join(".") || "rule"}: ${issue.message}`)
      .join("; ");
    throw new RobustMQError(code, `${what}: ${detail}`);
  }
  return parsed.data;
}

export class AclRuleBook {
  readonly #db: Database<AclRule, string>;
  readonly #acl: Acl;
  readonly #config: readonly AclRule[];
  /** API rules sorted by position. */
  #api: readonly ApiEntry[];
  #byId: Map<string, AclRule>;
  #all: readonly AclRule[];
  /** The write in progress; the next one starts after it settles. */
  #tail: Promise<unknown>;

  private constructor(
    db: Database<AclRule, string>,
    config: readonly AclRule[],
    api: readonly ApiEntry[],
    acl: Acl,
  ) {
    this.#db = db;
    this.#acl = acl;
    this.#config = config;
    this.#api = api;
    this.#byId = new Map();
    this.#all = [];
    this.#tail = Promise.resolve();
    this.#apply();
  }

  /** Reads the API rules in stored order and gives `acl` the whole list. */
  static load(
    db: Database<AclRule, string>,
    configRules: readonly AclRuleSpec[],
    acl: Acl,
  ): AclRuleBook {
    const config = configRules.map((spec, i) =>
      ruleOf(
        `${CONFIG_ID_PREFIX}${i + 1}`,
        "config",
        validSpec(spec, ErrorCode.CONFIG_INVALID, `[mqtt_acl] rule ${i + 1}`),
      ),
    );
    const api: ApiEntry[] = [];
    const ids = new Set<string>();
    for (const { key, value } of db.getRange()) {
      const position = parsePositionKey(key);
      const spec = validSpec(specOf(value), ErrorCode.STORAGE_CORRUPT, `ACL store rule ${key}`);
      if (value.source !== "api" || typeof value.id !== "string" || ids.has(value.id)) {
        throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `ACL store rule ${key}: bad identity`);
      }
      ids.add(value.id);
      api.push({ rule: ruleOf(value.id, "api", spec), position });
    }
    return new AclRuleBook(db, config, api, acl);
  }

  /** Config rules, then API rules, in evaluation order. */
  list(): readonly AclRule[] {
    return this.#all;
  }

  get(id: string): AclRule | undefined {
    return this.#byId.get(id);
  }

  /**
   * Validates and stores a rule, last or just before the API rule `options.before`.
   * Resolves once the rule is on disk and in force.
   */
  async add(spec: AclRuleSpec, options?: { readonly before?: string }): Promise<AclRule> {
    const valid = validSpec(spec, ErrorCode.ADMIN_INVALID_REQUEST, "ACL rule");
    return this.#serialize(async () => {
      if (this.#api.length >= ACL_API_RULES_MAX) {
        throw new RobustMQError(
          ErrorCode.ADMIN_INVALID_REQUEST,
          `at most ${ACL_API_RULES_MAX} ACL rules can be added through the API`,
        );
      }
      const index = this.#insertIndex(options?.before);
      const rule = ruleOf(this.#newId(), "api", valid);
      await this.#insertAt(rule, index);
      return rule;
    });
  }

  /** Removes an API rule; false when there is none with this id. Config rules throw. */
  delete(id: string): Promise<boolean> {
    return this.#serialize(async () => {
      if (this.#config.some((rule) => rule.id === id)) {
        throw new RobustMQError(
          ErrorCode.ADMIN_INVALID_REQUEST,
          `ACL rule ${id} comes from the config file and cannot be deleted at run time`,
        );
      }
      const index = this.#api.findIndex((entry) => entry.rule.id === id);
      if (index < 0) return false;
      // `remove` resolves true whether or not the key was there; removeSync tells.
      const key = positionKey(this.#api[index].position);
      const removed = await lmdbWrite(this.#db.transaction(() => this.#db.removeSync(key)));
      assert(removed, `ACL rule ${id} was in memory but not in the store`);
      this.#api = this.#api.toSpliced(index, 1);
      this.#apply();
      return true;
    });
  }

  #serialize<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(write);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Where a new rule goes among the API rules: at the end, or at `before`'s index. */
  #insertIndex(before: string | undefined): number {
    if (before === undefined) return this.#api.length;
    const index = this.#api.findIndex((entry) => entry.rule.id === before);
    if (index >= 0) return index;
    if (this.#config.some((rule) => rule.id === before)) {
      throw new RobustMQError(
        ErrorCode.ADMIN_INVALID_REQUEST,
        `config rules always come first: cannot insert before ${before}`,
      );
    }
    throw new RobustMQError(ErrorCode.ADMIN_NOT_FOUND, `no ACL rule ${before}`);
  }

  #newId(): string {
    for (let attempt = 0; attempt < ID_ATTEMPTS_MAX; attempt++) {
      const id = `api-${randomBytes(6).toString("hex")}`;
      if (!this.#byId.has(id)) return id;
    }
    throw new Error("assertion failed: no free random ACL rule id");
  }

  async #insertAt(rule: AclRule, index: number): Promise<void> {
    assert(index >= 0 && index <= this.#api.length, "insert index in range");
    const before = index > 0 ? this.#api[index - 1].position : 0;
    const after = index < this.#api.length ? this.#api[index].position : POSITION_MAX;
    // Appending steps past the last rule; inserting splits the gap between two.
    const position =
      index < this.#api.length ? Math.floor((before + after) / 2) : before + POSITION_STEP;
    if (position > before && position < after) {
      await lmdbWrite(this.#db.put(positionKey(position), rule));
      this.#api = this.#api.toSpliced(index, 0, { rule, position });
    } else {
      await this.#renumber(this.#api.map((entry) => entry.rule).toSpliced(index, 0, rule));
    }
    this.#apply();
  }

  /** Rewrites every API rule at evenly spaced positions, atomically. */
  async #renumber(rules: readonly AclRule[]): Promise<void> {
    const old = this.#api;
    const fresh = rules.map((rule, i) => ({ rule, position: (i + 1) * POSITION_STEP }));
    await lmdbWrite(
      this.#db.transaction(() => {
        for (const entry of old) this.#db.removeSync(positionKey(entry.position));
        for (const entry of fresh) this.#db.putSync(positionKey(entry.position), entry.rule);
      }),
    );
    this.#api = fresh;
  }

  /** Rebuilds the combined list and the id index, and hands the list to the Acl. */
  #apply(): void {
    for (let i = 1; i < this.#api.length; i++) {
      assert(this.#api[i - 1].position < this.#api[i].position, "API rules sorted by position");
    }
    const all = [...this.#config, ...this.#api.map((entry) => entry.rule)];
    const byId = new Map<string, AclRule>();
    for (const rule of all) byId.set(rule.id, rule);
    assert(byId.size === all.length, "ACL rule ids are unique");
    this.#all = Object.freeze(all);
    this.#byId = byId;
    this.#acl.setRules(all);
  }
}
