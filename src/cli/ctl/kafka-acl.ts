/**
 * `robustmq ctl kafka acl list|add|delete`: the Kafka ACL ([kafka_acl]) through the admin API,
 * changed at run time without a restart (docs/kafka.md "Authorization").
 */
import { type Command, Option } from "commander";
import { KAFKA_ACL_ACTIONS } from "../../security/acl/kafka-acl.ts";
import { action } from "./actions.ts";
import type { JsonObject } from "./client.ts";
import { KAFKA_ACL_RULE_COLUMNS } from "./columns.ts";
import { renderObject } from "./output.ts";
import { permissionOption, registerListAndDelete } from "./rule-lists.ts";

interface KafkaAclAddFlags {
  permission: string;
  action: string;
  topic?: string;
  group?: string;
  clientUsername?: string;
  before?: string;
}

function bodyOf(flags: KafkaAclAddFlags): JsonObject {
  const body: JsonObject = { permission: flags.permission, action: flags.action };
  if (flags.topic !== undefined) body.topic = flags.topic;
  if (flags.group !== undefined) body.group = flags.group;
  if (flags.clientUsername !== undefined) body.username = flags.clientUsername;
  if (flags.before !== undefined) body.before = flags.before;
  return body;
}

/** Adds `acl` under `robustmq ctl kafka`. */
export function registerKafkaAcl(kafka: Command): void {
  const acl = kafka.command("acl").description("Kafka ACL rules, in evaluation order");
  registerListAndDelete(acl, "/api/v1/kafka/acl", KAFKA_ACL_RULE_COLUMNS);
  const add = acl
    .command("add")
    .description("add a rule, last or just before the API rule --before")
    .addOption(permissionOption())
    .addOption(
      new Option("--action <action>", "read, write, admin or all")
        .choices(KAFKA_ACL_ACTIONS)
        .makeOptionMandatory(),
    )
    .option("--topic <pattern>", 'a Kafka topic name, a prefix ending in "*", or "*"')
    .option("--group <pattern>", 'or a consumer group id, a prefix ending in "*", or "*"')
    .option("--client-username <name>", "only clients authenticated as this user (default: any)")
    .option("--before <id>", "insert just before this API rule (default: last)");
  add.action(
    action(
      (client) => client.post("/api/v1/kafka/acl", bodyOf(add.opts<KafkaAclAddFlags>())),
      renderObject,
    ),
  );
}
