/**
 * Payload schema validation (as EMQX's schema validation, JSON Schema first): ordered rules of
 * [mqtt_schema_validation], each a topic filter and a JSON Schema (a file or inline text),
 * compiled once at start with Ajv (schema-compile.ts). A PUBLISH to a topic that a rule's
 * filter matches (the first such rule) must carry UTF-8 JSON that the schema accepts;
 * otherwise the handler refuses it (v5: PUBACK/PUBREC 0x99 Payload format invalid; QoS 0 and
 * v3: dropped).
 *
 * A zero-length retained PUBLISH is let through: it deletes the topic's retained message
 * [MQTT-3.3.1-6] rather than carrying a payload.
 *
 * SchemaValidation is the pure part (rules in, a verdict out); payloadAccepted() is the shell
 * the PUBLISH handler calls, which counts and logs refusals. Without rules the broker holds no
 * SchemaValidation at all, so a PUBLISH pays one null check.
 */
import { isUtf8 } from "node:buffer";
import { filterMatchesTopic } from "../../security/acl/topic-cover.ts";
import type { MqttConnection } from "./connection.ts";

/** A compiled rule (schema-compile.ts compiles them, loading Ajv only when there are rules). */
export interface SchemaRule {
  readonly filter: string;
  /** The schema file, or null for an inline schema. */
  readonly schemaFile: string | null;
  /** True when the parsed payload matches the schema. */
  validate(value: unknown): boolean;
  /** Why the last validate() failed, in Ajv's words. */
  explain(): string;
}

export class SchemaValidation {
  readonly rules: readonly SchemaRule[];

  constructor(rules: readonly SchemaRule[]) {
    this.rules = rules;
  }

  /** The first rule whose filter matches `topic`, or null. */
  ruleFor(topic: string): SchemaRule | null {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      if (filterMatchesTopic(rules[i].filter, topic)) return rules[i];
    }
    return null;
  }

  /** Why `payload` may not be published to `topic`, or null when it may. */
  problem(topic: string, payload: Buffer): string | null {
    const rule = this.ruleFor(topic);
    if (rule === null) return null;
    if (!isUtf8(payload)) return "payload is not UTF-8";
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch {
      return "payload is not JSON";
    }
    if (rule.validate(value)) return null;
    return `payload does not match the schema of ${rule.filter}: ${rule.explain()}`;
  }
}

/** Connections whose first refusal was logged at info; later ones go to debug. */
const refusalLogged = new WeakSet<MqttConnection>();

/**
 * The PUBLISH handler's check: true when the payload may be published. A refusal is counted
 * (robustmq_messages_dropped_total{reason="schema_invalid"}) and logged, at info only the first
 * time per connection so a client repeating a bad message does not flood the log.
 */
export function payloadAccepted(
  conn: MqttConnection,
  validation: SchemaValidation,
  topic: string,
  payload: Buffer,
  retain: boolean,
): boolean {
  if (retain && payload.length === 0) return true;
  const problem = validation.problem(topic, payload);
  if (problem === null) return true;
  const broker = conn.broker;
  broker.stats.droppedSchemaInvalid++;
  const first = !refusalLogged.has(conn);
  if (first) refusalLogged.add(conn);
  broker.logger[first ? "info" : "debug"](
    { clientId: conn.clientId, topic, problem },
    "publish refused: payload fails schema validation",
  );
  return false;
}
