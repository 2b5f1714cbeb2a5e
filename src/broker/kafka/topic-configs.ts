/**
 * The per-topic configs CreateTopics accepts, each mapped onto the partition log option it sets.
 * Anything else is refused with INVALID_CONFIG rather than silently ignored, so a client never
 * believes a setting took effect when it did not.
 */
import {
  type CleanupPolicy,
  DEFAULT_LOG_OPTIONS,
  type LogOptions,
} from "../../storage/log/index.ts";

interface ConfigRule {
  /** Why the value is refused, or null. */
  check(value: string): string | null;
  apply(options: Partial<LogOptions>, value: string): void;
}

const INT32_MAX = 2_147_483_647;
const DAY_MS = 86_400_000n;
/**
 * The largest batch any topic may take: a batch must fit one group commit (the log asserts it,
 * resolveLogOptions), and the broker never raises that 8 MiB; [kafka] message_max_bytes has the
 * same ceiling. Kafka itself allows up to 2^31-1, so a larger max.message.bytes is refused with
 * INVALID_CONFIG naming this limit rather than accepted and quietly lowered.
 */
export const MESSAGE_BYTES_MAX = DEFAULT_LOG_OPTIONS.group_commit_bytes_max;

function integer(min: number, max: number, set: (o: Partial<LogOptions>, v: number) => void) {
  return {
    check(value: string): string | null {
      const n = Number(value);
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
        return `must be an integer from ${min} to ${max}`;
      }
      return null;
    },
    apply(options: Partial<LogOptions>, value: string): void {
      set(options, Number(value));
    },
  };
}

/** The rule with `note` after its refusal, for limits that are this broker's, not Kafka's. */
function withNote(rule: ConfigRule, note: string): ConfigRule {
  return {
    check: (value) => {
      const problem = rule.check(value);
      return problem === null ? null : `${problem} (${note})`;
    },
    apply: rule.apply,
  };
}

const RULES: Readonly<Record<string, ConfigRule>> = {
  "retention.ms": integer(-1, Number.MAX_SAFE_INTEGER, (o, v) => {
    o.retention_ms = v;
  }),
  "retention.bytes": integer(-1, Number.MAX_SAFE_INTEGER, (o, v) => {
    o.retention_bytes = v;
  }),
  "segment.bytes": integer(1024, INT32_MAX, (o, v) => {
    o.segment_bytes = v;
  }),
  "segment.ms": integer(1, Number.MAX_SAFE_INTEGER, (o, v) => {
    o.segment_ms = v;
  }),
  "max.message.bytes": withNote(
    integer(64, MESSAGE_BYTES_MAX, (o, v) => {
      o.batch_bytes_max = v;
    }),
    "this broker's largest record batch, the size of one group commit",
  ),
  "cleanup.policy": {
    check: (value) =>
      cleanupPolicy(value) === null ? 'must be "delete", "compact" or "compact,delete"' : null,
    apply: (options, value) => {
      options.cleanup_policy = cleanupPolicy(value) ?? "delete";
    },
  },
  "delete.retention.ms": integer(0, Number.MAX_SAFE_INTEGER, (o, v) => {
    o.delete_retention_ms = v;
  }),
  "min.compaction.lag.ms": integer(0, Number.MAX_SAFE_INTEGER, (o, v) => {
    o.min_compaction_lag_ms = v;
  }),
  // Applied together by fsyncPolicyOf: each alone says too little. Kafka's Long range.
  "flush.messages": { check: positiveLong, apply: () => {} },
  "flush.ms": { check: positiveLong, apply: () => {} },
  "min.cleanable.dirty.ratio": {
    check(value: string): string | null {
      const n = Number(value);
      const ok = /^\d*\.?\d+$/.test(value) && n >= 0 && n <= 1;
      return ok ? null : "must be a number from 0 to 1";
    },
    apply(options: Partial<LogOptions>, value: string): void {
      options.min_cleanable_dirty_ratio = Number(value);
    },
  },
};

/**
 * Kafka's flush.messages / flush.ms as the log's fsync policy, the topic's own durability
 * promise: flush.messages = 1 fsyncs every append (group-committed: "always"); flush.ms
 * fsyncs on a timer ("interval"); a larger flush.messages alone leaves it to the OS ("never",
 * Kafka's own default). Null when the topic sets neither: the [kafka] fsync_policy applies.
 */
function fsyncPolicyOf(configs: Readonly<Record<string, string>>): Partial<LogOptions> | null {
  const messages = configs["flush.messages"];
  const ms = configs["flush.ms"];
  if (messages === "1") return { fsync_policy: "always" };
  if (ms !== undefined) {
    // Beyond a day a timer is as good as none (and beyond setInterval's range).
    if (BigInt(ms) > DAY_MS) return { fsync_policy: "never" };
    return { fsync_policy: "interval", fsync_interval_ms: Number(ms) };
  }
  return messages === undefined ? null : { fsync_policy: "never" };
}

function positiveLong(value: string): string | null {
  const ok = /^\d{1,19}$/.test(value) && BigInt(value) >= 1n && BigInt(value) <= 2n ** 63n - 1n;
  return ok ? null : "must be an integer from 1 to 9223372036854775807";
}

/** Kafka's list syntax, in either order and with spaces: "compact, delete" is both. */
function cleanupPolicy(value: string): CleanupPolicy | null {
  const parts = new Set(value.split(",").map((part) => part.trim()));
  if (parts.size === 0 || [...parts].some((p) => p !== "delete" && p !== "compact")) return null;
  if (parts.size === 2) return "compact,delete";
  return parts.has("compact") ? "compact" : "delete";
}

/** Whether a topic with these configs is compacted (its logs get compaction passes). */
export function isCompacted(configs: Readonly<Record<string, string>>): boolean {
  const policy = configs["cleanup.policy"];
  return policy !== undefined && (cleanupPolicy(policy) ?? "delete") !== "delete";
}

export const SUPPORTED_TOPIC_CONFIGS = Object.keys(RULES);

/**
 * The rule of a config name; own keys only, so that a client's "toString" or "__proto__" is an
 * unknown config rather than a member of Object.prototype.
 */
function ruleOf(name: string): ConfigRule | undefined {
  return Object.hasOwn(RULES, name) ? RULES[name] : undefined;
}

/** Why the configs cannot be used, or null. */
export function topicConfigProblem(configs: Readonly<Record<string, string>>): string | null {
  for (const [name, value] of Object.entries(configs)) {
    const rule = ruleOf(name);
    if (rule === undefined) {
      return `config "${name}" is not supported (supported: ${SUPPORTED_TOPIC_CONFIGS.join(", ")})`;
    }
    const problem = rule.check(value);
    if (problem !== null) return `config ${name}=${value}: ${problem}`;
  }
  return null;
}

/**
 * The broker's log options with the topic's configs on top; batch size limits stay consistent
 * (a batch must fit a segment, a group commit and the append queue).
 */
export function logOptionsFor(
  base: Readonly<Partial<LogOptions>>,
  configs: Readonly<Record<string, string>>,
): Partial<LogOptions> {
  const options: Partial<LogOptions> = { ...base };
  for (const [name, value] of Object.entries(configs)) ruleOf(name)?.apply(options, value);
  const fsync = fsyncPolicyOf(configs);
  if (fsync !== null) Object.assign(options, fsync);
  const segment = options.segment_bytes ?? INT32_MAX;
  if (options.batch_bytes_max !== undefined) {
    // A batch must fit a fresh segment; as in Kafka, where a batch larger than segment.bytes is
    // refused whatever max.message.bytes says. MESSAGE_BYTES_MAX only matters for topics
    // created before larger values were refused: they still open, with the broker's limit.
    options.batch_bytes_max = Math.min(options.batch_bytes_max, segment, MESSAGE_BYTES_MAX);
  }
  return options;
}
