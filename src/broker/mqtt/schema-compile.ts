/**
 * Compiles the rules of [mqtt_schema_validation] with Ajv, once at start. Kept apart from
 * schema-validation.ts so Ajv (about 150 ms to load) is loaded only by a node that has rules.
 * An unreadable file, a file that is not JSON or a schema Ajv refuses stops the start with a
 * config error that names the key and the file.
 */
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ErrorCode, RobustMQError } from "../../errors.ts";
import { type SchemaRule, SchemaValidation } from "./schema-validation.ts";

/** A rule as [mqtt_schema_validation] rules holds it (the config checked: exactly one source). */
export interface SchemaRuleConfig {
  readonly topic: string;
  readonly schema_file?: string;
  readonly schema?: string;
}

const CONFIG_KEY = "mqtt_schema_validation.rules";

/** One problem, worded like a config file's: the start-up reports it in the same list form. */
function configError(message: string): RobustMQError {
  return new RobustMQError(ErrorCode.CONFIG_INVALID, message);
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory, not a file";
  return err instanceof Error ? err.message : String(err);
}

/** An Ajv for the schema's dialect ($schema): draft-07 unless it names 2019-09 or 2020-12. */
function ajvFor(schema: unknown): Ajv {
  const dialect =
    typeof schema === "object" && schema !== null ? (schema as { $schema?: unknown }).$schema : "";
  // Unknown keywords are allowed (schemas often carry "examples" or "x-..." annotations);
  // the schema itself is still checked against its meta-schema. One Ajv per rule: two files
  // with the same $id must not clash.
  const options = { strict: false, allErrors: false, logger: false } as const;
  const text = typeof dialect === "string" ? dialect : "";
  const ajv = text.includes("2020-12")
    ? new Ajv2020(options)
    : text.includes("2019-09")
      ? new Ajv2019(options)
      : new Ajv(options);
  addFormats.default(ajv);
  return ajv;
}

/** Compiles one rule; throws a config error naming the key and the file. */
function compileRule(
  rule: SchemaRuleConfig,
  index: number,
  read: (file: string) => string,
): SchemaRule {
  const file = rule.schema_file ?? null;
  const key = `${CONFIG_KEY}[${index}].${file === null ? "schema" : "schema_file"}`;
  const where = file === null ? key : `${key} = ${JSON.stringify(file)}`;
  let text: string;
  try {
    text = file === null ? (rule.schema ?? "") : read(file);
  } catch (err) {
    throw configError(`${where}: cannot read the schema file: ${describe(err)}`);
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw configError(`${where}: the schema is not JSON: ${describe(err)}`);
  }
  const ajv = ajvFor(schema);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as object | boolean);
  } catch (err) {
    throw configError(`${where}: not a valid JSON Schema: ${describe(err)}`);
  }
  return {
    filter: rule.topic,
    schemaFile: file,
    validate: (value) => validate(value) === true,
    explain: () => ajv.errorsText(validate.errors),
  };
}

/**
 * The compiled rules, in order; null when there are none. Throws RobustMQError
 * RMQ_ERR_CONFIG_INVALID for an unreadable file or an invalid schema. Relative file names are
 * relative to the working directory, like the other file keys.
 */
export function compileSchemaValidation(
  rules: readonly SchemaRuleConfig[],
  read: (file: string) => string = (file) => readFileSync(file, "utf8"),
): SchemaValidation | null {
  if (rules.length === 0) return null;
  return new SchemaValidation(rules.map((rule, index) => compileRule(rule, index, read)));
}
