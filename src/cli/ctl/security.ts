/**
 * `robustmq ctl users|acl|banned ...`: built-in users, ACL rules and bans through the admin API
 * (docs/ctl.md). Two names are shared with ctl's own login flags, so:
 * - an ACL rule's user name is `--client-username` (as in `clients list`), since `--username`
 *   is the admin login;
 * - `users add|update --password P` is the user's password unless the command logs in with
 *   `--username` (then `--password` is the admin's, and the user's password is read from
 *   standard input).
 */
import { Argument, type Command, Option } from "commander";
import { BAN_DURATION_S_MAX } from "../../admin/limits.ts";
import { ACL_ACTIONS, BAN_KINDS } from "../../security/types.ts";
import {
  action,
  addPaging,
  booleanOption,
  checkLogin,
  type GlobalFlags,
  integerOption,
  runAndPrint,
  usageError,
} from "./actions.ts";
import type { Credentials, JsonObject } from "./client.ts";
import { ACL_RULE_COLUMNS, BAN_COLUMNS, USER_COLUMNS } from "./columns.ts";
import { renderObject, renderPage } from "./output.ts";
import { pageQueryOf, permissionOption, registerListAndDelete } from "./rule-lists.ts";

/** A password on standard input: MQTT's limit, plus a line ending. */
const STDIN_PASSWORD_BYTES_MAX = 65_535 + 2;

/**
 * The login's credentials and the user's password typed on the command line. Logging in with
 * --username takes --password for the admin; otherwise a typed --password is the user's.
 */
function splitPassword(
  command: Command,
  flags: GlobalFlags,
): { credentials: Credentials; typed: string | undefined } {
  checkLogin(command, flags);
  if (flags.username !== undefined) return { credentials: flags, typed: undefined };
  const typed = command.getOptionValueSourceWithGlobals("password") === "cli";
  return { credentials: { token: flags.token }, typed: typed ? flags.password : undefined };
}

/** The whole of standard input, less one trailing line ending; a usage error when empty. */
async function passwordFromStdin(
  command: Command,
  flags: GlobalFlags,
  missing: string,
): Promise<string> {
  // With --username, --password is the admin's login, so the user's can only come on stdin.
  const asLogin = flags.username !== undefined;
  const stdinOnly = `${missing}: with --username, --password is the admin's; send the user's password on standard input`;
  if (process.stdin.isTTY === true) {
    const why = asLogin ? stdinOnly : `${missing}, or send the password on standard input`;
    usageError(command, `${why} (not a terminal)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > STDIN_PASSWORD_BYTES_MAX) {
      usageError(command, "the password on standard input is longer than 65535 bytes");
    }
    chunks.push(chunk);
  }
  const password = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (password === "") {
    usageError(command, `${asLogin ? stdinOnly : missing}; standard input held no password`);
  }
  return password;
}

function userPath(username: string): string {
  return `/api/v1/users/${encodeURIComponent(username)}`;
}

function registerUserWrites(users: Command): void {
  users
    .command("add <username>")
    .description("add a user; the password is --password, or standard input")
    .option("--superuser", "the user passes every ACL check")
    .action(async (username: string, _options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<GlobalFlags & { superuser?: boolean }>();
      const { credentials, typed } = splitPassword(command, flags);
      const password =
        typed ?? (await passwordFromStdin(command, flags, "users add needs --password"));
      const body = { username, password, superuser: flags.superuser === true };
      await runAndPrint(
        flags,
        credentials,
        (client) => client.post("/api/v1/users", body),
        renderObject,
      );
    });
  users
    .command("update <username>")
    .description("change a user's password and/or superuser flag")
    .option("--superuser <bool>", "true or false", booleanOption)
    .action(async (username: string, _options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<GlobalFlags & { superuser?: boolean }>();
      const { credentials, typed } = splitPassword(command, flags);
      const body: JsonObject = {};
      if (flags.superuser !== undefined) body.superuser = flags.superuser;
      // With nothing else to change, the new password comes from standard input.
      const missing = "users update needs --password or --superuser";
      const password =
        typed ??
        (flags.superuser === undefined ? await passwordFromStdin(command, flags, missing) : null);
      if (password !== null) body.password = password;
      await runAndPrint(
        flags,
        credentials,
        (client) => client.put(userPath(username), body),
        renderObject,
      );
    });
  users
    .command("delete <username>")
    .description("delete a user (clients already connected stay until they reconnect)")
    .action(action((client, username: string) => client.delete(userPath(username)), renderObject));
}

function registerUsers(ctl: Command): void {
  const users = ctl.command("users").description("built-in MQTT users (authenticator built_in)");
  const list = addPaging(users.command("list").description("list users, never their passwords"));
  list.action(
    action(
      (client) => client.get("/api/v1/users", pageQueryOf(list)),
      (body) => renderPage(body, USER_COLUMNS),
    ),
  );
  users
    .command("show <username>")
    .description("show one user")
    .action(action((client, username: string) => client.get(userPath(username)), renderObject));
  registerUserWrites(users);
}

interface AclAddFlags {
  permission: string;
  action: string;
  topic: string;
  clientUsername?: string;
  clientId?: string;
  ip?: string;
  before?: string;
}

function aclBodyOf(flags: AclAddFlags): JsonObject {
  const body: JsonObject = {
    permission: flags.permission,
    action: flags.action,
    topic: flags.topic,
  };
  if (flags.clientUsername !== undefined) body.username = flags.clientUsername;
  if (flags.clientId !== undefined) body.client_id = flags.clientId;
  if (flags.ip !== undefined) body.ip = flags.ip;
  if (flags.before !== undefined) body.before = flags.before;
  return body;
}

function registerAcl(ctl: Command): void {
  const acl = ctl.command("acl").description("ACL rules, in evaluation order");
  registerListAndDelete(acl, "/api/v1/acl", ACL_RULE_COLUMNS);
  const add = acl
    .command("add")
    .description("add a rule, last or just before the API rule --before")
    .addOption(permissionOption())
    .addOption(
      new Option("--action <action>", "publish, subscribe or all")
        .choices(ACL_ACTIONS)
        .makeOptionMandatory(),
    )
    .requiredOption("--topic <filter>", "MQTT topic filter; %u is the user name, %c the client id")
    .option("--client-username <name>", "only clients with this MQTT user name (default: any)")
    .option("--client-id <id>", "only this client id (default: any)")
    .option("--ip <address>", "only clients from this IP address or CIDR block (default: any)")
    .option("--before <id>", "insert just before this API rule (default: last)");
  add.action(
    action(
      (client) => client.post("/api/v1/acl", aclBodyOf(add.opts<AclAddFlags>())),
      renderObject,
    ),
  );
}

interface BanAddFlags {
  kind: string;
  value: string;
  duration?: number;
  reason?: string;
}

function registerBanned(ctl: Command): void {
  const banned = ctl.command("banned").description("banned client ids, user names and IPs");
  const list = addPaging(banned.command("list").description("list the bans in force"));
  list.action(
    action(
      (client) => client.get("/api/v1/banned", pageQueryOf(list)),
      (body) => renderPage(body, BAN_COLUMNS),
    ),
  );
  const add = banned
    .command("add")
    .description("ban a client id, user name or IP address / CIDR block; disconnects it now")
    .addOption(
      new Option("--kind <kind>", "client_id, username or ip")
        .choices(BAN_KINDS)
        .makeOptionMandatory(),
    )
    .requiredOption("--value <value>", "the client id, user name, or IP address / CIDR block")
    .option(
      "--duration <seconds>",
      "seconds until the ban lapses (default, or 0: never)",
      integerOption(0, BAN_DURATION_S_MAX),
    )
    .option("--reason <text>", "why, shown in the list");
  add.action(
    action((client) => {
      const flags = add.opts<BanAddFlags>();
      const body: JsonObject = { kind: flags.kind, value: flags.value };
      if (flags.duration !== undefined) body.duration_s = flags.duration;
      if (flags.reason !== undefined) body.reason = flags.reason;
      return client.post("/api/v1/banned", body);
    }, renderObject),
  );
  banned
    .command("delete")
    .description("lift a ban (the value is URL-encoded for you: 10.0.0.0/8 works)")
    .addArgument(new Argument("<kind>", "client_id, username or ip").choices(BAN_KINDS))
    .addArgument(new Argument("<value>", "the banned client id, user name, address or block"))
    .action(
      action(
        (client, kind: string, value: string) =>
          client.delete(`/api/v1/banned/${kind}/${encodeURIComponent(value)}`),
        renderObject,
      ),
    );
}

/** Adds `users`, `acl` and `banned` to `robustmq ctl`. */
export function registerSecurityCommands(ctl: Command): void {
  registerUsers(ctl);
  registerAcl(ctl);
  registerBanned(ctl);
}
