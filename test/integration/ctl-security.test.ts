/**
 * `robustmq ctl users|acl|banned` as a child process against a real broker process: each verb,
 * both output formats, the user's password from --password or standard input (never echoed),
 * and the exit status of each failure (1: the API refused; 2: a wrong command line).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";

const ADMIN_PASSWORD = "ctl-security-admin-password";
const USER_PASSWORD = "user-Secret-42";

type Item = Record<string, unknown>;

/** Runs `robustmq ctl ...`; `stdin` is written to its standard input (else /dev/null). */
function ctl(args: string[], stdin?: string): Promise<CtlRun> {
  return runCtl(args, { stdin });
}

function parsed(run: CtlRun): Item {
  assert.equal(run.status, 0, `stderr: ${run.stderr}\nstdout: ${run.stdout}`);
  return JSON.parse(run.stdout) as Item;
}

function assertRefused(run: CtlRun, status: number, message: RegExp): void {
  assert.equal(run.status, status, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.equal(run.stdout, "", "nothing on standard output");
  assert.match(run.stderr, message);
}

describe("robustmq ctl users, acl and banned", () => {
  let broker: BrokerProcess;
  /** Token auth: `--password` on `users add|update` is then the user's. */
  let withToken: string[];
  /** Login auth: `--password` is the admin's. */
  let withLogin: string[];

  before(async () => {
    broker = await startBroker({
      config:
        `[admin]\npassword = "${ADMIN_PASSWORD}"\n` +
        '[mqtt_acl]\nrules = [ { permission = "allow", action = "all", topic = "public/#" } ]\n',
      logLevel: "info",
    });
    const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
    const server = `http://127.0.0.1:${String(line.address).split(":").pop()}`;
    const response = await fetch(`${server}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    const { token } = (await response.json()) as { token: string };
    withToken = ["--server", server, "--token", token];
    withLogin = ["--server", server, "--username", "admin", "--password", ADMIN_PASSWORD];
  });
  after(() => broker.stop());

  test("users add --password (token), list, show, update, delete", async () => {
    const added = parsed(
      await ctl([...withToken, "--output", "json", "users", "add", "bob", "--password", "pw-1"]),
    );
    assert.deepEqual(Object.keys(added).sort(), ["createdAt", "superuser", "username"]);
    assert.equal(added.superuser, false);
    const root = await ctl([
      ...withToken,
      "users",
      "add",
      "root",
      "--superuser",
      "--password",
      USER_PASSWORD,
    ]);
    assert.equal(root.status, 0, root.stderr);
    assert.match(root.stdout, /^username\s+root$/m);
    assert.match(root.stdout, /^superuser\s+true$/m);
    assert.ok(!root.stdout.includes(USER_PASSWORD), "the password is never printed");

    const table = await ctl([...withToken, "users", "list"]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^USERNAME\s+SUPERUSER\s+CREATED$/m);
    assert.match(table.stdout, /^bob\s+false\s+\d{4}-/m);
    assert.match(table.stdout, /^root\s+true\s+\d{4}-/m);
    assert.match(table.stdout, /^2 of 2$/m);
    const page = parsed(
      await ctl([...withToken, "--output", "json", "users", "list", "--limit", "1"]),
    );
    assert.deepEqual((page.meta as Item).nextOffset, 1);

    const promoted = parsed(
      await ctl([
        ...withToken,
        "--output",
        "json",
        "users",
        "update",
        "bob",
        "--superuser",
        "true",
      ]),
    );
    assert.equal(promoted.superuser, true);
    const shown = parsed(await ctl([...withToken, "--output", "json", "users", "show", "bob"]));
    assert.equal(shown.superuser, true);
    const repassed = await ctl([...withToken, "users", "update", "bob", "--password", "pw-2"]);
    assert.equal(repassed.status, 0, repassed.stderr);

    const deleted = parsed(await ctl([...withToken, "--output", "json", "users", "delete", "bob"]));
    assert.deepEqual(deleted, { username: "bob", deleted: true });
    const again = await ctl([...withToken, "users", "delete", "bob"]);
    assertRefused(again, 1, /^error RMQ_ERR_CTL_REQUEST_FAILED: .*404 \(RMQ_ERR_ADMIN_NOT_FOUND/);
    await ctl([...withToken, "users", "delete", "root"]);
  });

  test("users add reads the password from standard input; a login keeps --password", async () => {
    const added = parsed(
      await ctl([...withLogin, "--output", "json", "users", "add", "carol"], `${USER_PASSWORD}\n`),
    );
    assert.equal(added.username, "carol");
    const updated = parsed(
      await ctl([...withLogin, "--output", "json", "users", "update", "carol"], "new-pw\r\n"),
    );
    assert.equal(updated.username, "carol");
    const flagOnly = parsed(
      await ctl([
        ...withLogin,
        "--output",
        "json",
        "users",
        "update",
        "carol",
        "--superuser",
        "true",
      ]),
    );
    assert.equal(flagOnly.superuser, true, "no password needed to change only the flag");
    const noPassword = await ctl([...withLogin, "users", "add", "dave"]);
    assertRefused(
      noPassword,
      2,
      /^error RMQ_ERR_CLI_USAGE: users add needs --password: with --username, --password is the admin's; send the user's password on standard input/,
    );
    const empty = await ctl([...withToken, "users", "add", "dave"], "\n");
    assertRefused(empty, 2, /RMQ_ERR_CLI_USAGE: .*standard input held no password/);
    const list = parsed(await ctl([...withToken, "--output", "json", "users", "list"]));
    assert.deepEqual(
      (list.data as Item[]).map((u) => u.username),
      ["carol"],
    );
    await ctl([...withToken, "users", "delete", "carol"]);
  });

  test("users: API refusals exit 1, bad command lines exit 2", async () => {
    await ctl([...withToken, "users", "add", "erin", "--password", "x"]);
    const taken = await ctl([...withToken, "users", "add", "erin", "--password", "y"]);
    assertRefused(taken, 1, /400 \(RMQ_ERR_ADMIN_INVALID_REQUEST: user "erin" already exists\)/);
    const unknown = await ctl([...withToken, "users", "update", "nobody", "--superuser", "false"]);
    assertRefused(unknown, 1, /404 \(RMQ_ERR_ADMIN_NOT_FOUND/);
    for (const args of [
      ["users", "update", "erin", "--superuser", "maybe"],
      ["users", "add"],
      ["users", "frobnicate"],
    ]) {
      const run = await ctl([...withToken, ...args]);
      assertRefused(run, 2, /RMQ_ERR_CLI_USAGE/);
    }
    await ctl([...withToken, "users", "delete", "erin"]);
  });

  test("acl add, --before, list in order, delete; config rules are read-only", async () => {
    const first = parsed(
      await ctl([
        ...withToken,
        "--output",
        "json",
        "acl",
        "add",
        "--permission",
        "deny",
        "--action",
        "publish",
        "--topic",
        "secret/#",
        "--client-username",
        "guest",
        "--client-id",
        "c1",
        "--ip",
        "10.0.0.0/8",
      ]),
    );
    assert.deepEqual(
      [first.source, first.permission, first.action, first.topic],
      ["api", "deny", "publish", "secret/#"],
    );
    assert.deepEqual([first.username, first.client_id, first.ip], ["guest", "c1", "10.0.0.0/8"]);
    const second = parsed(
      await ctl([
        ...withLogin,
        "--output",
        "json",
        "acl",
        "add",
        "--permission",
        "allow",
        "--action",
        "all",
        "--topic",
        "open/+",
        "--before",
        String(first.id),
      ]),
    );
    const list = parsed(await ctl([...withToken, "--output", "json", "acl", "list"]));
    assert.deepEqual(
      (list.data as Item[]).map((r) => r.id),
      ["config-1", second.id, first.id],
    );
    const table = await ctl([...withToken, "acl", "list"]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(
      table.stdout,
      /^ID\s+SOURCE\s+PERMISSION\s+ACTION\s+TOPIC\s+USERNAME\s+CLIENT ID\s+IP$/m,
    );
    assert.match(table.stdout, /^config-1\s+config\s+allow\s+all\s+public\/#\s+-\s+-\s+-$/m);
    assert.match(
      table.stdout,
      new RegExp(
        `^${first.id}\\s+api\\s+deny\\s+publish\\s+secret/#\\s+guest\\s+c1\\s+10\\.0\\.0\\.0/8$`,
        "m",
      ),
    );

    const readOnly = await ctl([...withToken, "acl", "delete", "config-1"]);
    assertRefused(readOnly, 1, /400 \(RMQ_ERR_ADMIN_INVALID_REQUEST: .*config/);
    const deleted = parsed(
      await ctl([...withToken, "--output", "json", "acl", "delete", String(first.id)]),
    );
    assert.deepEqual(deleted, { id: first.id, deleted: true });
    const gone = await ctl([...withToken, "acl", "delete", String(first.id)]);
    assertRefused(gone, 1, /404 \(RMQ_ERR_ADMIN_NOT_FOUND/);
    await ctl([...withToken, "acl", "delete", String(second.id)]);
  });

  test("acl: invalid rules exit 1, bad command lines exit 2", async () => {
    const rule = ["acl", "add", "--permission", "allow", "--action", "all"];
    const badTopic = await ctl([...withToken, ...rule, "--topic", "a/#/b"]);
    assertRefused(badTopic, 1, /400 \(RMQ_ERR_ADMIN_INVALID_REQUEST: .*topic/);
    const badIp = await ctl([...withToken, ...rule, "--topic", "a", "--ip", "300.1.1.1"]);
    assertRefused(badIp, 1, /400 .*ip/);
    for (const args of [
      ["acl", "add", "--permission", "maybe", "--action", "all", "--topic", "a"],
      ["acl", "add", "--permission", "allow", "--action", "connect", "--topic", "a"],
      ["acl", "add", "--permission", "allow", "--action", "all"],
      ["acl", "delete"],
    ]) {
      assertRefused(await ctl([...withToken, ...args]), 2, /RMQ_ERR_CLI_USAGE/);
    }
    const list = parsed(await ctl([...withToken, "--output", "json", "acl", "list"]));
    assert.equal((list.meta as Item).total, 1, "only the config rule");
  });

  test("banned add, list, delete (an IP block with '/')", async () => {
    const added = parsed(
      await ctl([
        ...withToken,
        "--output",
        "json",
        "banned",
        "add",
        "--kind",
        "ip",
        "--value",
        "10.20.0.0/16",
        "--duration",
        "3600",
        "--reason",
        "scanner",
      ]),
    );
    assert.equal(added.kicked, 0);
    const ban = added.ban as Item;
    assert.deepEqual([ban.kind, ban.value, ban.reason], ["ip", "10.20.0.0/16", "scanner"]);
    assert.equal(Date.parse(String(ban.expiresAt)) - Date.parse(String(ban.createdAt)), 3_600_000);
    const forever = await ctl([
      ...withToken,
      "banned",
      "add",
      "--kind",
      "client_id",
      "--value",
      "bad-bot",
    ]);
    assert.equal(forever.status, 0, forever.stderr);
    assert.match(forever.stdout, /^ban\.expiresAt\s+-$/m);
    assert.match(forever.stdout, /^kicked\s+0$/m);
    const table = await ctl([...withToken, "banned", "list"]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^KIND\s+VALUE\s+REASON\s+CREATED\s+EXPIRES AT$/m);
    assert.match(table.stdout, /^client_id\s+bad-bot\s+-\s+\S+\s+never$/m);
    assert.match(table.stdout, /^ip\s+10\.20\.0\.0\/16\s+scanner\s+\S+\s+\d{4}-/m);
    const lifted = parsed(
      await ctl([...withToken, "--output", "json", "banned", "delete", "ip", "10.20.0.0/16"]),
    );
    assert.deepEqual(lifted, { kind: "ip", value: "10.20.0.0/16", deleted: true });
    await ctl([...withToken, "banned", "delete", "client_id", "bad-bot"]);
    const list = parsed(await ctl([...withToken, "--output", "json", "banned", "list"]));
    assert.deepEqual(list.data, []);
  });

  test("banned: refusals exit 1, bad command lines exit 2", async () => {
    const badIp = await ctl([
      ...withToken,
      "banned",
      "add",
      "--kind",
      "ip",
      "--value",
      "10.0.0.0/40",
    ]);
    assertRefused(badIp, 1, /400 \(RMQ_ERR_ADMIN_INVALID_REQUEST: .*CIDR/);
    const unknown = await ctl([...withToken, "banned", "delete", "username", "never-banned"]);
    assertRefused(unknown, 1, /404 \(RMQ_ERR_ADMIN_NOT_FOUND/);
    for (const args of [
      ["banned", "add", "--kind", "colour", "--value", "x"],
      ["banned", "add", "--kind", "ip"],
      ["banned", "add", "--kind", "ip", "--value", "10.0.0.1", "--duration", "-1"],
      ["banned", "add", "--kind", "ip", "--value", "10.0.0.1", "--duration", "soon"],
      ["banned", "delete", "colour", "x"],
      ["banned", "delete", "ip"],
    ]) {
      assertRefused(await ctl([...withToken, ...args]), 2, /RMQ_ERR_CLI_USAGE/);
    }
  });

  test("without credentials the security commands exit 1 with how to log in", async () => {
    const run = await ctl(["--server", withToken[1], "users", "list"]);
    assertRefused(run, 1, /401.*log in with --username\/--password or pass --token/);
  });
});
