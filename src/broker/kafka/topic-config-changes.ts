/**
 * What AlterConfigs and IncrementalAlterConfigs make of a topic's own configs, with Kafka's
 * semantics: AlterConfigs replaces the whole set (a config not named goes back to its
 * default); IncrementalAlterConfigs sets, deletes, or appends to / subtracts from a list-valued
 * config (cleanup.policy), starting from the default when the topic does not set it. The result
 * is validated as CreateTopics validates (topicConfigProblem), so there is one set of rules.
 * Pure: the handlers and the topic store call it, the unit tests feed it.
 */
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import { type ConfigEntry, ConfigType } from "./config-entries.ts";
import { SUPPORTED_TOPIC_CONFIGS, topicConfigProblem } from "./topic-configs.ts";

/** Kafka's AlterConfigOp.OpType codes. */
export const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const OPERATION_NAMES = ["SET", "DELETE", "APPEND", "SUBTRACT"] as const;

/** One config of one resource in a request; AlterConfigs' entries are all SET. */
export interface ConfigAlteration {
  readonly name: string;
  readonly operation: number;
  readonly value: string | null;
}

export type AlterationResult =
  | { readonly ok: true; readonly configs: Record<string, string> }
  | { readonly ok: false; readonly errorCode: number; readonly message: string };

/** The defaults a topic config falls back to, with their types (config-entries.ts). */
export type TopicDefaults = ReadonlyMap<string, ConfigEntry>;

function refused(errorCode: number, message: string): AlterationResult {
  return { ok: false, errorCode, message };
}

/**
 * Kafka's checks of a resource's entries before anything else (ConfigAdminManager.preprocess),
 * each INVALID_REQUEST: a config named twice, a null value other than for DELETE, an unknown
 * operation. Null when there is none.
 */
export function alterationRequestProblem(alterations: readonly ConfigAlteration[]): string | null {
  const names = new Set(alterations.map((a) => a.name));
  if (names.size !== alterations.length) return "Error due to duplicate config keys";
  const unknown = alterations.find((a) => OPERATION_NAMES[a.operation] === undefined);
  if (unknown !== undefined) return `Unknown operation type ${unknown.operation}`;
  const nulls = alterations.filter(
    (a) => a.value === null && a.operation !== ConfigOperation.DELETE,
  );
  if (nulls.length > 0)
    return `Null value not supported for : ${nulls.map((a) => a.name).join(", ")}`;
  return null;
}

/** AlterConfigs: exactly the configs named, every other one back to its default. */
export function replacedConfigs(alterations: readonly ConfigAlteration[]): AlterationResult {
  // fromEntries defines own properties: a "__proto__" entry is kept (and refused), not swallowed.
  const configs: Record<string, string> = Object.fromEntries(
    alterations.flatMap(({ name, value }) => (value === null ? [] : [[name, value]])),
  );
  return validated(configs);
}

/** IncrementalAlterConfigs: each operation applied to the topic's current configs. */
export function incrementalConfigs(
  current: Readonly<Record<string, string>>,
  alterations: readonly ConfigAlteration[],
  defaults: TopicDefaults,
): AlterationResult {
  const configs: Record<string, string> = { ...current };
  for (const { name, operation, value } of alterations) {
    // Refused for DELETE too (Kafka lets that pass as a no-op): no name is ever ignored.
    if (!SUPPORTED_TOPIC_CONFIGS.includes(name)) return validated({ [name]: value ?? "" });
    if (operation === ConfigOperation.SET) {
      configs[name] = value ?? "";
    } else if (operation === ConfigOperation.DELETE) {
      delete configs[name];
    } else {
      const fallback = defaults.get(name);
      if (fallback?.type !== ConfigType.LIST) {
        const message = `Can't ${OPERATION_NAMES[operation]} to key ${name} because its type is not LIST.`;
        return refused(KafkaError.INVALID_CONFIG, message);
      }
      const items = listItems(configs[name] ?? fallback.value);
      const given = listItems(value ?? "");
      const next =
        operation === ConfigOperation.APPEND
          ? [
              ...items,
              ...given.filter((item, i) => !items.includes(item) && given.indexOf(item) === i),
            ]
          : items.filter((item) => !given.includes(item));
      configs[name] = next.join(",");
    }
  }
  return validated(configs);
}

/** A list config's items: comma-separated, spaces around them dropped, as Kafka parses lists. */
function listItems(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function validated(configs: Record<string, string>): AlterationResult {
  const problem = topicConfigProblem(configs);
  if (problem !== null) return refused(KafkaError.INVALID_CONFIG, problem);
  return { ok: true, configs };
}

/** What changed, for the log line: configs set (new or other values) and configs removed. */
export function configDifference(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): { set: Record<string, string>; removed: string[] } {
  const set: Record<string, string> = {};
  for (const [name, value] of Object.entries(after)) {
    if (before[name] !== value) set[name] = value;
  }
  const removed = Object.keys(before).filter((name) => after[name] === undefined);
  return { set, removed };
}
