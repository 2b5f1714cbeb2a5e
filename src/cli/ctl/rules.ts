/**
 * `robustmq ctl rewrite ...` and `robustmq ctl auto-subscribe ...`: topic rewrite and
 * auto-subscribe rules through the admin API (docs/ctl.md). Lists are in evaluation order;
 * config file rules are listed but read-only.
 */
import { type Command, Option } from "commander";
import { REWRITE_ACTIONS } from "../../broker/mqtt/rules/types.ts";
import { action, integerOption } from "./actions.ts";
import type { JsonObject } from "./client.ts";
import { type Column, renderObject, text } from "./output.ts";
import { registerListAndDelete } from "./rule-lists.ts";

function col(header: string, key: string): Column {
  return { header, cell: (item: JsonObject) => text(item[key]) };
}

const REWRITE_COLUMNS: readonly Column[] = [
  col("ID", "id"),
  col("SOURCE", "source"),
  col("ACTION", "action"),
  col("SOURCE TOPIC", "source_topic"),
  col("RE", "re"),
  col("DEST TOPIC", "dest_topic"),
];

const AUTO_SUBSCRIBE_COLUMNS: readonly Column[] = [
  col("ID", "id"),
  col("SOURCE", "source"),
  col("TOPIC", "topic"),
  col("QOS", "qos"),
  col("NO LOCAL", "no_local"),
  col("RETAIN AS PUBLISHED", "retain_as_published"),
  col("RETAIN HANDLING", "retain_handling"),
];

interface RewriteAddFlags {
  action: string;
  sourceTopic: string;
  re: string;
  destTopic: string;
  before?: string;
}

function registerRewrite(ctl: Command): void {
  const path = "/api/v1/topic-rewrite";
  const rewrite = ctl.command("rewrite").description("topic rewrite rules, in evaluation order");
  registerListAndDelete(rewrite, path, REWRITE_COLUMNS);
  const add = rewrite
    .command("add")
    .description("add a rule, last or just before the API rule --before; in force at once")
    .addOption(
      new Option("--action <action>", "publish, subscribe or all")
        .choices(REWRITE_ACTIONS)
        .makeOptionMandatory(),
    )
    .requiredOption("--source-topic <filter>", "topic filter the topic must match")
    .requiredOption("--re <regex>", "JavaScript regular expression the topic must match")
    .requiredOption("--dest-topic <topic>", "the new topic; $1..$9 are the expression's groups")
    .option("--before <id>", "insert just before this API rule (default: last)");
  add.action(
    action((client) => {
      const flags = add.opts<RewriteAddFlags>();
      const body: JsonObject = {
        action: flags.action,
        source_topic: flags.sourceTopic,
        re: flags.re,
        dest_topic: flags.destTopic,
      };
      if (flags.before !== undefined) body.before = flags.before;
      return client.post(path, body);
    }, renderObject),
  );
}

interface AutoSubscribeAddFlags {
  topic: string;
  qos?: number;
  /** false when --no-local is given. */
  local: boolean;
  retainAsPublished?: boolean;
  retainHandling?: number;
  before?: string;
}

function registerAutoSubscribe(ctl: Command): void {
  const path = "/api/v1/auto-subscribe";
  const auto = ctl
    .command("auto-subscribe")
    .description("subscriptions made for every client after CONNACK");
  registerListAndDelete(auto, path, AUTO_SUBSCRIBE_COLUMNS);
  const add = auto
    .command("add")
    .description("add a rule, last or just before the API rule --before; in force at once")
    .requiredOption("--topic <filter>", "topic filter; %u is the user name, %c the client id")
    .option("--qos <n>", "0, 1 or 2 (default 0)", integerOption(0, 2))
    .option("--no-local", "the client does not get its own messages (MQTT 5 No Local)")
    .option("--retain-as-published", "keep the RETAIN flag of forwarded messages")
    .option(
      "--retain-handling <n>",
      "0, 1 or 2 (default 0): when retained messages go",
      integerOption(0, 2),
    )
    .option("--before <id>", "insert just before this API rule (default: last)");
  add.action(
    action((client) => {
      const flags = add.opts<AutoSubscribeAddFlags>();
      const body: JsonObject = { topic: flags.topic };
      if (flags.qos !== undefined) body.qos = flags.qos;
      if (!flags.local) body.no_local = true;
      if (flags.retainAsPublished === true) body.retain_as_published = true;
      if (flags.retainHandling !== undefined) body.retain_handling = flags.retainHandling;
      if (flags.before !== undefined) body.before = flags.before;
      return client.post(path, body);
    }, renderObject),
  );
}

/** Adds `rewrite` and `auto-subscribe` to `robustmq ctl`. */
export function registerRuleCommands(ctl: Command): void {
  registerRewrite(ctl);
  registerAutoSubscribe(ctl);
}
