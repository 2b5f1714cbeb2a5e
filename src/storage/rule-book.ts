/**
 * An ordered rule list as the broker runs it (ACL rules, topic rewrite rules, auto-subscribe
 * rules): the config file's rules first (ids "config-1",
 * "config-2", ...; read-only at run time), then the rules added through the admin API, which
 * live in an LMDB database and survive restarts in their order.
 *
 * Order is the LMDB key: a zero-padded position number, so reading the database in key order
 * gives the rule order back. New rules take a position STEP past the last one; inserting
 * before a rule takes the midpoint of the gap, and when a gap is used up every API rule is
 * renumbered in one transaction. A write changes memory (and what the watchers see) only after
 * LMDB has flushed it, and writes run one at a time, so each sees the order the last one left.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "lmdb";
import type { z } from "zod";
import { assert, ErrorCode, RobustMQError } from "../errors.ts";
import { lmdbWrite } from "./lmdb-writes.ts";

/** Where a rule came from: `config` rules are read-only at run time. */
export type RuleSource = "config" | "api";

/** What every stored rule has besides its spec. */
export interface RuleIdentity {
  readonly id: string;
  readonly source: RuleSource;
}

/** Gap between neighbouring positions when numbering afresh: 20 halvings before a renumber. */
const POSITION_STEP = 2 ** 20;
/** Positions stay exact integers and fit the fixed key width. */
const POSITION_MAX = Number.MAX_SAFE_INTEGER;
const POSITION_KEY_DIGITS = 16;
/** Random ids collide with odds of 2^-48 per pair; a few retries make a clash impossible. */
const ID_ATTEMPTS_MAX = 8;
const CONFIG_ID_PREFIX = "config-";
/** A book never holds more API rules than a full renumber can place. */
const API_RULES_CEILING = Math.floor(POSITION_MAX / POSITION_STEP) - 1;

assert(String(POSITION_MAX).length <= POSITION_KEY_DIGITS, "positions fit the key width");

/** What a book needs to know about its kind of rule. */
export interface RuleKind<Spec, Rule extends Spec & RuleIdentity> {
  /** Names a rule in messages: "topic rewrite rule". */
  readonly noun: string;
  /** The config section its config rules come from: "[mqtt_topic_rewrite]". */
  readonly section: string;
  readonly apiRulesMax: number;
  /** Validates a spec from the config file, the API or the store. */
  readonly schema: z.ZodType<Spec>;
  /** The rule with the spec's fields in a fixed order. */
  ruleOf(id: string, source: RuleSource, spec: Spec): Rule;
}

interface ApiEntry<Rule> {
  readonly rule: Rule;
  readonly position: number;
}

function positionKey(position: number): string {
  assert(Number.isSafeInteger(position) && position > 0, "position is a positive integer");
  return String(position).padStart(POSITION_KEY_DIGITS, "0");
}

function specOf<Rule extends RuleIdentity>(rule: Rule): Omit<Rule, "id" | "source"> {
  const { id: _id, source: _source, ...spec } = rule;
  return spec;
}

export class RuleBook<Spec, Rule extends Spec & RuleIdentity> {
  readonly #db: Database<Rule, string>;
  readonly #kind: RuleKind<Spec, Rule>;
  readonly #config: readonly Rule[];
  /** API rules sorted by position. */
  #api: readonly ApiEntry<Rule>[];
  #byId: Map<string, Rule>;
  #all: readonly Rule[];
  readonly #watchers: Array<(rules: readonly Rule[]) => void>;
  /** The write in progress; the next one starts after it settles. */
  #tail: Promise<unknown>;

  private constructor(
    db: Database<Rule, string>,
    kind: RuleKind<Spec, Rule>,
    config: readonly Rule[],
    api: readonly ApiEntry<Rule>[],
  ) {
    assert(kind.apiRulesMax <= API_RULES_CEILING, "a full renumber fits the positions");
    this.#db = db;
    this.#kind = kind;
    this.#config = config;
    this.#api = api;
    this.#byId = new Map();
    this.#all = [];
    this.#watchers = [];
    this.#tail = Promise.resolve();
    this.#apply();
  }

  /** Validates the config rules and reads the API rules in stored order. */
  static load<Spec, Rule extends Spec & RuleIdentity>(
    db: Database<Rule, string>,
    configRules: readonly unknown[],
    kind: RuleKind<Spec, Rule>,
  ): RuleBook<Spec, Rule> {
    const config = configRules.map((input, i) =>
      kind.ruleOf(
        `${CONFIG_ID_PREFIX}${i + 1}`,
        "config",
        validSpec(kind, input, ErrorCode.CONFIG_INVALID, `${kind.section} rule ${i + 1}`),
      ),
    );
    const api: ApiEntry<Rule>[] = [];
    const ids = new Set<string>();
    for (const { key, value } of db.getRange()) {
      const what = `${kind.noun} store rule ${key}`;
      if (!/^\d{16}$/.test(key)) {
        throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `${what}: bad key`);
      }
      const spec = validSpec(kind, specOf(value), ErrorCode.STORAGE_CORRUPT, what);
      if (value.source !== "api" || typeof value.id !== "string" || ids.has(value.id)) {
        throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `${what}: bad identity`);
      }
      ids.add(value.id);
      api.push({ rule: kind.ruleOf(value.id, "api", spec), position: Number(key) });
    }
    return new RuleBook(db, kind, config, api);
  }

  /** Config rules, then API rules, in evaluation order. */
  list(): readonly Rule[] {
    return this.#all;
  }

  get(id: string): Rule | undefined {
    return this.#byId.get(id);
  }

  /** Calls `watcher` with the list now and after every change. */
  watch(watcher: (rules: readonly Rule[]) => void): void {
    this.#watchers.push(watcher);
    watcher(this.#all);
  }

  /**
   * Validates and stores a rule, last, just before the API rule `options.before`, or before
   * every API rule with `options.first` (still after the config rules).
   * Resolves once the rule is on disk and in force.
   */
  async add(
    input: unknown,
    options?: { readonly before?: string; readonly first?: boolean },
  ): Promise<Rule> {
    assert(options?.first !== true || options.before === undefined, "first or before, not both");
    const kind = this.#kind;
    const spec = validSpec(kind, input, ErrorCode.ADMIN_INVALID_REQUEST, kind.noun);
    return this.#serialize(async () => {
      if (this.#api.length >= kind.apiRulesMax) {
        throw new RobustMQError(
          ErrorCode.ADMIN_INVALID_REQUEST,
          `at most ${kind.apiRulesMax} ${kind.noun}s can be added through the API`,
        );
      }
      const index = options?.first === true ? 0 : this.#insertIndex(options?.before);
      const rule = kind.ruleOf(this.#newId(), "api", spec);
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
          `${this.#kind.noun} ${id} comes from the config file and cannot be deleted at run time`,
        );
      }
      const index = this.#api.findIndex((entry) => entry.rule.id === id);
      if (index < 0) return false;
      // `remove` resolves true whether or not the key was there; removeSync tells.
      const key = positionKey(this.#api[index].position);
      const removed = await lmdbWrite(this.#db.transaction(() => this.#db.removeSync(key)));
      assert(removed, `${this.#kind.noun} ${id} was in memory but not in the store`);
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
    throw new RobustMQError(ErrorCode.ADMIN_NOT_FOUND, `no ${this.#kind.noun} ${before}`);
  }

  #newId(): string {
    for (let attempt = 0; attempt < ID_ATTEMPTS_MAX; attempt++) {
      const id = `api-${randomBytes(6).toString("hex")}`;
      if (!this.#byId.has(id)) return id;
    }
    throw new Error(`assertion failed: no free random ${this.#kind.noun} id`);
  }

  async #insertAt(rule: Rule, index: number): Promise<void> {
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
  async #renumber(rules: readonly Rule[]): Promise<void> {
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

  /** Rebuilds the combined list and the id index, and tells the watchers. */
  #apply(): void {
    for (let i = 1; i < this.#api.length; i++) {
      assert(this.#api[i - 1].position < this.#api[i].position, "API rules sorted by position");
    }
    const all = [...this.#config, ...this.#api.map((entry) => entry.rule)];
    const byId = new Map<string, Rule>();
    for (const rule of all) byId.set(rule.id, rule);
    assert(byId.size === all.length, `${this.#kind.noun} ids are unique`);
    this.#all = Object.freeze(all);
    this.#byId = byId;
    for (const watcher of this.#watchers) watcher(this.#all);
  }
}

function validSpec<Spec, Rule extends Spec & RuleIdentity>(
  kind: RuleKind<Spec, Rule>,
  input: unknown,
  code: RobustMQError["code"],
  what: string,
): Spec {
  const parsed = kind.schema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join(".") || "rule"}: ${issue.message}`)
      .join("; ");
    throw new RobustMQError(code, `${what}: ${detail}`);
  }
  return parsed.data;
}
