/**
 * `robustmq ctl <area> <verb>`: the admin HTTP API from the command line (docs/ctl.md).
 *
 * Exit status: 0 on success, 1 when the server is unreachable or answers with an error,
 * 2 for a wrong command line (commander's errors, bad option values).
 */

import { type Command, InvalidArgumentError, Option } from "commander";
import { action, addPaging, booleanOption, serverOption, usageError } from "./actions.ts";
import type { Json, JsonObject } from "./client.ts";
import {
  CLIENT_COLUMNS,
  KAFKA_GROUP_COLUMNS,
  KAFKA_PARTITION_COLUMNS,
  KAFKA_TOPIC_COLUMNS,
  RETAINED_COLUMNS,
  SEGMENT_COLUMNS,
  SESSION_COLUMNS,
  SUBSCRIPTION_COLUMNS,
} from "./columns.ts";
import { registerDelayedCommands } from "./delayed.ts";
import { registerKafkaAcl } from "./kafka-acl.ts";
import { registerObservabilityCommands } from "./observability.ts";
import { renderObject, renderPage, renderTable } from "./output.ts";
import { registerRuleCommands } from "./rules.ts";
import { registerSecurityCommands } from "./security.ts";
import { registerTopicCommands } from "./topics.ts";

const DEFAULT_SERVER = "http://127.0.0.1:58080";

interface ListFlags {
  clientId?: string;
  clientUsername?: string;
  connected?: boolean;
  filter?: string;
  limit?: number;
  offset?: number;
}

/** The list flags a command has, as API query parameters (undefined ones are left out). */
function listQuery(command: Command) {
  const flags = command.opts<ListFlags>();
  return {
    clientId: flags.clientId,
    username: flags.clientUsername,
    connected: flags.connected,
    filter: flags.filter,
    limit: flags.limit,
    offset: flags.offset,
  };
}

function registerClients(ctl: Command): void {
  const clients = ctl.command("clients").description("MQTT clients and their sessions");
  const list = clients
    .command("list")
    .description("list clients (connected, and offline persistent sessions)")
    .option("--client-id <id>", "only this client id")
    .option("--client-username <name>", "only clients that connected with this MQTT user name")
    .option("--connected <bool>", "true: only connected ones; false: only offline", booleanOption);
  addPaging(list).action(
    action(
      (client) => client.get("/api/v1/clients", listQuery(list)),
      (body) => renderPage(body, CLIENT_COLUMNS),
    ),
  );
  clients
    .command("show <clientId>")
    .description("show one client")
    .action(
      action(
        (client, id: string) => client.get(`/api/v1/clients/${encodeURIComponent(id)}`),
        renderObject,
      ),
    );
  clients
    .command("kick <clientId>")
    .description("disconnect a client (MQTT 5: reason 0x98); its session stays per its expiry")
    .action(
      action(
        (client, id: string) => client.delete(`/api/v1/clients/${encodeURIComponent(id)}`),
        renderObject,
      ),
    );
}

function registerLists(ctl: Command): void {
  const sessions = addPaging(
    ctl
      .command("sessions")
      .description("MQTT sessions")
      .command("list")
      .description("list sessions, offline persistent ones with their expiry")
      .option("--client-id <id>", "only this client id")
      .option(
        "--connected <bool>",
        "true: only connected ones; false: only offline",
        booleanOption,
      ),
  );
  sessions.action(
    action(
      (client) => client.get("/api/v1/sessions", listQuery(sessions)),
      (body) => renderPage(body, SESSION_COLUMNS),
    ),
  );
  const subscriptions = addPaging(
    ctl
      .command("subscriptions")
      .description("MQTT subscriptions")
      .command("list")
      .description("list subscriptions")
      .option("--client-id <id>", "only this client's")
      .option("--filter <filter>", "only this topic filter, exactly as subscribed"),
  );
  subscriptions.action(
    action(
      (client) => client.get("/api/v1/subscriptions", listQuery(subscriptions)),
      (body) => renderPage(body, SUBSCRIPTION_COLUMNS),
    ),
  );
}

function registerRetained(ctl: Command): void {
  const retained = ctl.command("retained").description("retained messages");
  const list = addPaging(
    retained
      .command("list")
      .description("list retained messages")
      .option("--filter <filter>", "an MQTT topic filter such as sensors/# (default: all)"),
  );
  list.action(
    action(
      (client) => client.get("/api/v1/retained", listQuery(list)),
      (body) => renderPage(body, RETAINED_COLUMNS),
    ),
  );
  retained
    .command("delete <topic>")
    .description("delete the retained message of a topic")
    .action(
      action(
        (client, topic: string) => client.delete(`/api/v1/retained/${encodeURIComponent(topic)}`),
        renderObject,
      ),
    );
}

function registerNode(ctl: Command): void {
  ctl
    .command("status")
    .description("the node: cluster, broker id, roles, version, uptime, listeners")
    .action(action((client) => client.get("/api/v1/node"), renderObject));
  ctl
    .command("stats")
    .description("broker counters and current sizes")
    .action(action((client) => client.get("/api/v1/stats"), renderObject));
  ctl
    .command("config")
    .description("the node's configuration")
    .command("show")
    .description("show the effective configuration (secrets redacted)")
    .action(action((client) => client.get("/api/v1/config"), renderObject));
}

/** An object's scalar fields as key/value lines, then its `key` list as a table. */
function objectWithTable(key: string, columns: Parameters<typeof renderTable>[1]) {
  return (body: Json): string => {
    const { [key]: rows, ...rest } = body as JsonObject;
    const list = (rows ?? []) as JsonObject[];
    return `${renderObject(rest as Json)}\n${list.length === 0 ? "(none)\n" : renderTable(list, columns)}`;
  };
}

function registerStorage(ctl: Command): void {
  ctl
    .command("storage")
    .description("stored data")
    .command("mqtt")
    .description("the MQTT message log behind durable sessions: offsets, checkpoint, segments")
    .action(
      action(
        (client) => client.get("/api/v1/storage/mqtt"),
        objectWithTable("segments", SEGMENT_COLUMNS),
      ),
    );
  const kafka = ctl.command("kafka").description("Kafka topics, consumer groups and ACL rules");
  registerKafkaAcl(kafka);
  const groups = kafka.command("groups").description("Kafka consumer groups");
  groups
    .command("delete <group>")
    .description("delete a consumer group without members, with its committed offsets")
    .action(
      action(
        (client, group: string) =>
          client.delete(`/api/v1/kafka/groups/${encodeURIComponent(group)}`),
        renderObject,
      ),
    );
  groups
    .command("list")
    .description("list consumer groups with their state, members and lag")
    .action(
      action(
        (client) => client.get("/api/v1/kafka/groups"),
        (body) => {
          const list = body as JsonObject[];
          return list.length === 0 ? "(none)\n" : renderTable(list, KAFKA_GROUP_COLUMNS);
        },
      ),
    );
  const topics = kafka.command("topics").description("Kafka topics");
  topics
    .command("list")
    .description("list Kafka topics with their partitions, records and bytes")
    .action(
      action(
        (client) => client.get("/api/v1/kafka/topics"),
        (body) => {
          const list = body as JsonObject[];
          return list.length === 0 ? "(none)\n" : renderTable(list, KAFKA_TOPIC_COLUMNS);
        },
      ),
    );
  topics
    .command("show <topic>")
    .description("one Kafka topic: configuration and each partition's offsets")
    .action(
      action(
        (client, name: string) => client.get(`/api/v1/kafka/topics/${encodeURIComponent(name)}`),
        objectWithTable("partitionLogs", KAFKA_PARTITION_COLUMNS),
      ),
    );
}

/** An environment variable's value; unset and empty are the same. */
function envValue(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * ROBUSTMQ_SERVER and ROBUSTMQ_PASSWORD, for the flags not typed. Read when a command runs, not
 * given as the options' defaults: commander prints defaults in --help (the password would show)
 * and never runs an option's parser on a default (a bad URL would pass as "unreachable").
 */
function optionsFromEnvironment(ctl: Command, actionCommand: Command): void {
  const server = envValue("ROBUSTMQ_SERVER");
  if (server !== undefined && ctl.getOptionValueSource("server") !== "cli") {
    ctl.setOptionValueWithSource("server", serverFromEnvironment(actionCommand, server), "env");
  }
  const password = envValue("ROBUSTMQ_PASSWORD");
  if (password !== undefined && ctl.getOptionValueSource("password") !== "cli") {
    ctl.setOptionValueWithSource("password", password, "env");
  }
}

/** ROBUSTMQ_SERVER checked like --server: a bad value is a usage error (exit 2). */
function serverFromEnvironment(actionCommand: Command, raw: string): string {
  try {
    return serverOption(raw);
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    usageError(actionCommand, `ROBUSTMQ_SERVER '${raw}' is invalid: ${err.message}`);
  }
}

/** Adds `robustmq ctl ...` to the program. */
export function registerCtlCommand(program: Command): void {
  const ctl = program
    .command("ctl")
    .description("manage a running node through its admin HTTP API (docs/ctl.md)")
    // Global flags may come before or after the area and verb.
    .enablePositionalOptions(false)
    .option(
      "--server <url>",
      "admin API base URL (env ROBUSTMQ_SERVER)",
      serverOption,
      DEFAULT_SERVER,
    )
    .option("--token <token>", "bearer token (env ROBUSTMQ_TOKEN)")
    .option("--username <name>", "admin user name: log in with it (needs --password)")
    .option("--password <password>", "admin password (env ROBUSTMQ_PASSWORD)")
    .addOption(
      new Option("--output <format>", "table or json").choices(["table", "json"]).default("table"),
    );
  ctl.hook("preAction", optionsFromEnvironment);
  registerNode(ctl);
  registerClients(ctl);
  registerLists(ctl);
  registerRetained(ctl);
  registerStorage(ctl);
  registerSecurityCommands(ctl);
  registerRuleCommands(ctl);
  registerTopicCommands(ctl);
  registerObservabilityCommands(ctl);
  registerDelayedCommands(ctl);
}
