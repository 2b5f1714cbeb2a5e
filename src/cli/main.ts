/**
 * The `robustmq` program. `start` validates the whole configuration (defaults < file < flags)
 * before anything else is loaded, so a bad value fails fast with one clear message and exit
 * status 2, and `--help` never pays for loading the broker.
 *
 * Exit status: 0 after a clean shutdown, 1 when the node fails or crashes, 2 when the command
 * line or configuration is wrong (the operator must fix something before retrying), including
 * what the configuration names on disk and can only be checked at start (certificates, ...).
 */
import { readFileSync } from "node:fs";
import { Command, type CommanderError } from "commander";
import { registerBenchCommand } from "../bench/command.ts";
import type { DeepPartialOverrides } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { registerCtlCommand } from "./ctl/command.ts";

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** What main needs of a started node; matches src/node/node.ts's RobustMQNode. */
interface StoppableNode {
  stop(reason?: string): Promise<void>;
}

interface StartFlags {
  config?: string;
  mqttPort?: string;
  httpPort?: string;
  dataDir?: string;
  logLevel?: string;
  roles?: string;
  kafkaPort?: string;
  wsPort?: string;
  wssPort?: string;
  tlsPort?: string;
}

/** The config key each flag sets, so errors about a flag's value name both. */
const FLAG_KEYS: Readonly<Record<string, string>> = {
  "network.tcp_port": "--mqtt-port",
  http_port: "--http-port",
  data_dir: "--data-dir",
  "log.level": "--log-level",
  roles: "--roles",
  "kafka.port": "--kafka-port",
  "mqtt_ws.port": "--ws-port",
  "mqtt_wss.port": "--wss-port",
  "mqtt_tls.port": "--tls-port",
};

function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const version: unknown = JSON.parse(text).version;
  return typeof version === "string" ? version : "unknown";
}

/**
 * Digits become numbers; anything else is passed through as the string typed, so the schema
 * reports it ("network.tcp_port = "abc": must be an integer ...") like a bad value in a file.
 */
function integerFlag(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
}

function rolesFlag(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw
    .split(",")
    .map((role) => role.trim())
    .filter((role) => role !== "");
}

/** `{ [key]: value }` for a flag that was given; nothing for one that was not. */
function sectionWith<K extends string>(key: K, value: unknown): Record<K, unknown> | undefined {
  return value === undefined ? undefined : ({ [key]: value } as Record<K, unknown>);
}

/**
 * Only the flags given become overrides: a section the command line does not touch must reach
 * validation exactly as the file wrote it, even when that is not a table (`mqtt_ws = "off"`).
 */
function flagOverrides(flags: StartFlags): DeepPartialOverrides {
  return {
    network: sectionWith("tcp_port", integerFlag(flags.mqttPort)),
    http_port: integerFlag(flags.httpPort),
    data_dir: flags.dataDir,
    log: sectionWith("level", flags.logLevel),
    roles: rolesFlag(flags.roles),
    kafka: sectionWith("port", integerFlag(flags.kafkaPort)),
    mqtt_ws: sectionWith("port", integerFlag(flags.wsPort)),
    mqtt_wss: sectionWith("port", integerFlag(flags.wssPort)),
    mqtt_tls: sectionWith("port", integerFlag(flags.tlsPort)),
  };
}

/** The message alone, no stack: the operator has a file or a flag to fix. */
function exitForConfigError(err: RobustMQError): never {
  process.stderr.write(`error ${err.code}: ${err.message}\n`);
  process.exit(EXIT_USAGE);
}

/** Configuration errors are the operator's to fix: the message alone, no stack, exit 2. */
async function loadConfigOrExit(flags: StartFlags): Promise<Config> {
  // Loaded here, not at the top, so --help and --version skip zod and the TOML parser.
  const { loadConfig } = await import("../config/load.ts");
  try {
    return loadConfig({
      file: flags.config,
      overrides: flagOverrides(flags),
      overrideLabels: FLAG_KEYS,
    });
  } catch (err) {
    if (!(err instanceof RobustMQError)) throw err;
    exitForConfigError(err);
  }
}

/**
 * What the configuration names on disk (certificates, schema files, JWT keys) is checked as
 * the node starts; such a mistake is still a configuration error, reported as one.
 */
async function exitIfConfigError(err: unknown, file: string | undefined): Promise<void> {
  if (!(err instanceof RobustMQError) || err.code !== ErrorCode.CONFIG_INVALID) return;
  const { invalidConfigError } = await import("../config/load.ts");
  exitForConfigError(invalidConfigError([err.message], file));
}

function installCrashHandlers(logger: Logger): void {
  process.on("uncaughtException", (err, origin) => {
    logger.fatal({ err, origin }, "uncaught exception; exiting");
    process.exit(EXIT_FAILURE);
  });
  process.on("unhandledRejection", (reason) => {
    logger.fatal({ err: reason }, "unhandled promise rejection; exiting");
    process.exit(EXIT_FAILURE);
  });
}

/**
 * The first SIGINT/SIGTERM stops the node once (waiting for it to finish starting if need be)
 * and exits 0; a second one means the operator will not wait, so exit 1 at once.
 */
function installSignalHandlers(logger: Logger, nodeReady: Promise<StoppableNode>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal during shutdown; exiting without waiting");
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, "stopping node");
    nodeReady
      .then((node) => node.stop(signal))
      .then(
        () => {
          logger.info("node stopped");
          process.exit(EXIT_OK);
        },
        (err: unknown) => {
          logger.fatal({ err }, "node did not stop cleanly");
          process.exit(EXIT_FAILURE);
        },
      );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

async function bootNode(config: Config, logger: Logger): Promise<StoppableNode> {
  // Imported only after the config is valid: config errors and --help stay fast and work
  // without loading the broker.
  const { startNode } = await import("../node/node.ts");
  return startNode(config, logger);
}

async function runStart(flags: StartFlags): Promise<void> {
  const config = await loadConfigOrExit(flags);
  const { createLogger } = await import("../log/logger.ts");
  const logger = createLogger(config.log);
  installCrashHandlers(logger);
  const nodeReady = bootNode(config, logger);
  installSignalHandlers(logger, nodeReady);
  try {
    await nodeReady;
  } catch (err) {
    await exitIfConfigError(err, flags.config);
    // A coded error is an operating problem the message explains (port in use, ...): a stack
    // trace would only bury it. Anything else is a bug, and the stack is what we need.
    if (err instanceof RobustMQError) {
      logger.fatal({ code: err.code }, `node failed to start: ${err.message}`);
    } else {
      logger.fatal({ err }, "node failed to start");
    }
    process.exit(EXIT_FAILURE);
  }
}

/** Commander's own errors (unknown command or option, missing value) are usage errors too. */
function exitForCommander(err: CommanderError): never {
  process.exit(err.exitCode === EXIT_OK ? EXIT_OK : EXIT_USAGE);
}

function buildProgram(): Command {
  const program = new Command("robustmq")
    .description("RobustMQ: a durable MQTT broker on a segmented, replicated log")
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .exitOverride(exitForCommander)
    // Subcommands own the options after their name (bench's -V is --protocol-version).
    .enablePositionalOptions()
    .configureOutput({
      outputError: (text, write) =>
        write(text.replace(/^error: /, `error ${ErrorCode.CLI_USAGE}: `)),
    });
  program
    .command("start")
    .description("start a node (with no options: all roles, data in ./data, MQTT on 1883)")
    .option("--config <file>", "TOML config file (keys: docs/configuration.md)")
    .option("--mqtt-port <n>", "MQTT TCP port, 0 = any free port (network.tcp_port)")
    .option("--http-port <n>", "admin HTTP API port, 0 = any free port (http_port)")
    .option("--data-dir <dir>", "where data is stored (data_dir)")
    .option("--log-level <level>", "trace, debug, info, warn, error or fatal (log.level)")
    .option("--roles <list>", "comma-separated roles: meta,broker,engine (roles)")
    .option("--kafka-port <n>", "Kafka TCP port, 0 = any free port (kafka.port)")
    .option("--ws-port <n>", "MQTT over WebSocket port, 0 = any free port (mqtt_ws.port)")
    .option("--wss-port <n>", "MQTT over secure WebSocket port, 0 = any (mqtt_wss.port)")
    .option("--tls-port <n>", "MQTT over TLS port, 0 = any free port (mqtt_tls.port)")
    .action(runStart);
  registerBenchCommand(program);
  registerCtlCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
