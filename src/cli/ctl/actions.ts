/**
 * What every `robustmq ctl` command shares: the global flags, option parsers, and the action
 * wrapper that connects, calls the API, prints, and turns coded errors into exit status 1.
 *
 * Exit status: 0 on success, 1 when the server is unreachable or answers with an error,
 * 2 for a wrong command line (commander's errors, bad option values).
 */
import { type Command, InvalidArgumentError } from "commander";
import { RobustMQError } from "../../errors.ts";
import { type AdminClient, type Credentials, connectAdmin, type Json } from "./client.ts";
import { type OutputFormat, render } from "./output.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export interface GlobalFlags {
  server: string;
  token?: string;
  username?: string;
  password?: string;
  output: OutputFormat;
}

export function integerOption(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

export function booleanOption(raw: string): boolean {
  if (raw === "true" || raw === "false") return raw === "true";
  throw new InvalidArgumentError('must be "true" or "false"');
}

/** An http(s) URL, as the admin API is reached; anything else is a usage error, not "unreachable". */
export function serverOption(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError("must be a URL such as http://127.0.0.1:58080");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError("must be an http:// or https:// URL");
  }
  return raw;
}

export function addPaging(command: Command): Command {
  return command
    .option("--limit <n>", "items per page, 1 to 1000 (default 100)", integerOption(1, 1000))
    .option(
      "--offset <n>",
      "items to skip (from the previous page's hint)",
      integerOption(0, 2 ** 31),
    );
}

/** A wrong command line: `error RMQ_ERR_CLI_USAGE: ...` on stderr, exit status 2. */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: "robustmq.ctl.usage" });
}

/** The login's credentials: --username needs a password (typed, or ROBUSTMQ_PASSWORD). */
export function checkLogin(command: Command, flags: GlobalFlags): void {
  if (flags.username !== undefined && flags.password === undefined) {
    usageError(command, "--username and --password go together");
  }
}

/** Connects with `credentials`, calls, prints; coded errors go to stderr with exit 1. */
export async function runAndPrint(
  flags: GlobalFlags,
  credentials: Credentials,
  run: (client: AdminClient) => Promise<Json>,
  table: (body: Json) => string,
): Promise<void> {
  try {
    const client = await connectAdmin(flags.server, credentials);
    const body = await run(client);
    process.stdout.write(render(flags.output, body, table));
  } catch (err) {
    if (!(err instanceof RobustMQError)) throw err;
    process.stderr.write(`error ${err.code}: ${err.message}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

/** Runs one ctl action: connect, call, print; coded errors go to stderr with exit 1. */
export function action<A extends unknown[]>(
  run: (client: AdminClient, ...args: A) => Promise<Json>,
  table: (body: Json) => string,
) {
  return async (...args: [...A, unknown, Command]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals<GlobalFlags>();
    const passwordTyped = command.getOptionValueSourceWithGlobals("password") === "cli";
    checkLogin(command, flags);
    if (flags.username === undefined && passwordTyped) {
      usageError(command, "--username and --password go together");
    }
    const operands = args.slice(0, -2) as A;
    await runAndPrint(flags, flags, (client) => run(client, ...operands), table);
  };
}
