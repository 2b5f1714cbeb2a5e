/**
 * Runs the real `robustmq` program in a child process: exit status and stderr are its interface
 * to operators and scripts. Config errors are found before src/node/node.ts is loaded, so these
 * tests need no running broker.
 */
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

const root = new URL("../../../", import.meta.url).pathname;
const nodeBin = join(root, "node_modules/.bin/node");
const mainScript = join(root, "src/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "robustmq-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const EXIT_USAGE = 2;

function robustmq(...args: string[]): SpawnSyncReturns<string> {
  return robustmqWithEnv({}, ...args);
}

/** `robustmq` with `env` added to (and overriding) this process's environment. */
function robustmqWithEnv(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(nodeBin, [mainScript, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  assert.equal(result.error, undefined, String(result.error));
  return result;
}

function writeFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Exit 2 and a stderr message with `code`, without a stack trace. */
function assertUsageError(result: SpawnSyncReturns<string>, code: string): string {
  assert.equal(result.status, EXIT_USAGE, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.ok(result.stderr.startsWith(`error ${code}: `), result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  return result.stderr;
}

describe("configuration errors exit 2 with a clear message", () => {
  test("--mqtt-port 70000 names network.tcp_port, the value, the flag and the range", () => {
    const stderr = assertUsageError(
      robustmq("start", "--mqtt-port", "70000"),
      "RMQ_ERR_CONFIG_INVALID",
    );
    assert.match(stderr, /network\.tcp_port = 70000 \(from --mqtt-port\)/);
    assert.match(stderr, /must be an integer from 0 to 65535/);
  });

  test("a non-numeric port is reported like a bad file value", () => {
    const stderr = assertUsageError(
      robustmq("start", "--http-port", "http"),
      "RMQ_ERR_CONFIG_INVALID",
    );
    assert.match(stderr, /http_port = "http" \(from --http-port\): must be an integer/);
  });

  test("--roles and --log-level are validated, with suggestions", () => {
    const stderr = assertUsageError(
      robustmq("start", "--roles", "meta,brokr", "--log-level", "warning"),
      "RMQ_ERR_CONFIG_INVALID",
    );
    assert.match(stderr, /2 problems/);
    assert.match(stderr, /roles = \["meta", "brokr"\] \(from --roles\).*did you mean "broker"/);
    assert.match(stderr, /log\.level = "warning" \(from --log-level\).*did you mean "warn"/);
  });

  test("a config file with a TOML syntax error names the file and line", () => {
    const file = writeFile("syntax.toml", 'cluster_name = "x"\n[network\ntcp_port = 1883\n');
    const stderr = assertUsageError(robustmq("start", "--config", file), "RMQ_ERR_CONFIG_FILE");
    assert.ok(stderr.includes(file), stderr);
    assert.match(stderr, /at line 2, column \d+/);
  });

  test("a config file with an unknown key names it and suggests the right one", () => {
    const file = writeFile("unknown.toml", "[network]\ntcp_prot = 1883\n");
    const stderr = assertUsageError(robustmq("start", "--config", file), "RMQ_ERR_CONFIG_INVALID");
    assert.match(stderr, /unknown key "tcp_prot" in \[network\]; did you mean "tcp_port"\?/);
    assert.ok(stderr.includes(file), "names the file");
  });

  test("a missing config file", () => {
    const stderr = assertUsageError(
      robustmq("start", "--config", "missing.toml"),
      "RMQ_ERR_CONFIG_FILE",
    );
    assert.match(stderr, /cannot read config file "missing\.toml": no such file/);
  });

  test("a flag overriding a bad file value does not hide it", () => {
    // Accepting it would start now and fail at the next start without the flag.
    const file = writeFile("override.toml", '[network]\ntcp_port = "1883"\n');
    const stderr = assertUsageError(
      robustmq("start", "--config", file, "--mqtt-port", "1884", "--http-port", "-1"),
      "RMQ_ERR_CONFIG_INVALID",
    );
    assert.match(stderr, /2 problems:/);
    assert.match(stderr, /network\.tcp_port = "1883" \(in the config file\): must be an integer/);
    assert.match(stderr, /http_port = -1 \(from --http-port\)/);
  });

  test("a section with a flag that is not a table is refused, flag given or not", () => {
    const file = writeFile(
      "not-tables.toml",
      'network = 5\nlog = false\nkafka = false\nmqtt_ws = "off"\nmqtt_wss = 1\nmqtt_tls = "x"\n',
    );
    const stderr = assertUsageError(
      robustmq("start", "--config", file, "--mqtt-port", "0", "--http-port", "0"),
      "RMQ_ERR_CONFIG_INVALID",
    );
    assert.match(stderr, /6 problems:/);
    assert.match(stderr, /network = 5 \(in the config file\): must be a table/);
    for (const line of ["log = false", "kafka = false", 'mqtt_ws = "off"', "mqtt_wss = 1"]) {
      assert.ok(stderr.includes(`${line}: must be a table`), stderr);
    }
    assert.ok(stderr.includes('mqtt_tls = "x": must be a table'), stderr);
  });

  test("a fractional port flag is refused without advice about quotes it does not have", () => {
    for (const [flag, value, key] of [
      ["--mqtt-port", "1.5", "network.tcp_port"],
      ["--http-port", "8080.0", "http_port"],
    ]) {
      const stderr = assertUsageError(robustmq("start", flag, value), "RMQ_ERR_CONFIG_INVALID");
      assert.ok(stderr.includes(`${key} = "${value}" (from ${flag}): must be an integer`), stderr);
      assert.doesNotMatch(stderr, /quotes/);
    }
  });
});

/** Flags that keep a start that gets past the config off the default ports. */
function freePorts(dataDir: string): string[] {
  return [
    "--mqtt-port",
    "0",
    "--http-port",
    "0",
    "--kafka-port",
    "0",
    "--ws-port",
    "0",
    "--data-dir",
    dataDir,
  ];
}

describe("configuration errors found at start exit 2 like the others, before data_dir is made", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "a certificate file that does not exist",
      '[mqtt_tls]\nenable = true\nport = 0\n[tls]\ncert_file = "missing-cert.pem"\nkey_file = "missing-key.pem"\n',
      /tls\.cert_file = "missing-cert\.pem": .*no such file/,
    ],
    [
      "an unreadable schema_file",
      '[[mqtt_schema_validation.rules]]\ntopic = "a"\nschema_file = "missing.json"\n',
      /mqtt_schema_validation\.rules\[0\]\.schema_file = "missing\.json": cannot read/,
    ],
    [
      "the jwt authenticator without a key (checked with the file)",
      '[mqtt_auth]\nauthenticators = ["jwt"]\n',
      /mqtt_auth\.authenticators = \["jwt"\]: has "jwt", which needs a key/,
    ],
    [
      "bridge rules with Kafka off (checked with the file)",
      '[kafka]\nenable = false\n[[bridge.mqtt_to_kafka]]\nmqtt_filter = "a"\nkafka_topic = "t"\n',
      /kafka\.enable = false: must be true while \[bridge\] has rules/,
    ],
  ];
  for (const [name, toml, problem] of cases) {
    test(name, () => {
      const file = writeFile(`start-${name.replaceAll(" ", "-")}.toml`, toml);
      const dataDir = join(dir, `data-${name.replaceAll(" ", "-")}`);
      const result = robustmq("start", "--config", file, ...freePorts(dataDir));
      const stderr = assertUsageError(result, "RMQ_ERR_CONFIG_INVALID");
      assert.match(stderr, /invalid configuration \(config file ".*"\), 1 problem:\n {2}- /);
      assert.match(stderr, problem);
      assert.equal(result.stdout, "", "nothing on standard output");
      assert.equal(existsSync(dataDir), false, "data_dir not created");
    });
  }
});

describe("start-up failures", () => {
  test("a file given as data_dir: a coded fatal line, no stack, exit 1", () => {
    const file = writeFile("not-a-dir", "");
    const result = robustmq("start", ...freePorts(file));
    assert.equal(result.status, 1, result.stderr);
    const fatal = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
    assert.equal(fatal.level, "fatal");
    assert.equal(fatal.code, "RMQ_ERR_STORAGE_IO");
    assert.match(fatal.msg, /data_dir = ".*not-a-dir" is not a usable directory: a file/);
    assert.equal(fatal.err, undefined, "no stack");
  });

  test("the generated admin password is shown even at --log-level error", async () => {
    const child = spawn(
      nodeBin,
      [mainScript, "start", "--log-level", "error", ...freePorts(join(dir, "data-quiet"))],
      { cwd: dir },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const started = Date.now();
    while (
      !stdout.includes('"password"') &&
      Date.now() - started < 15_000 &&
      child.exitCode === null
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGTERM");
    await exited;
    const line = stdout.split("\n").find((l) => l.includes('"password"'));
    assert.ok(line !== undefined, `no password line in:\n${stdout}`);
    assert.match(JSON.parse(line).password, /^[\w-]{16,}$/);
  });
});

describe("command line", () => {
  test("--version prints the package version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const result = robustmq("--version");
    assert.equal(result.status, 0);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  test("start --help lists every flag and exits 0", () => {
    const result = robustmq("start", "--help");
    assert.equal(result.status, 0);
    for (const flag of ["--config", "--mqtt-port", "--http-port", "--data-dir", "--log-level"]) {
      assert.ok(result.stdout.includes(flag), `${flag} missing from help`);
    }
    assert.ok(result.stdout.includes("--roles"));
  });

  test("an unknown command is a usage error", () => {
    const stderr = assertUsageError(robustmq("frobnicate", "now"), "RMQ_ERR_CLI_USAGE");
    assert.match(stderr, /unknown command 'frobnicate'/);
  });

  test("an unknown option is a usage error", () => {
    const stderr = assertUsageError(robustmq("start", "--mqtt-prot", "1"), "RMQ_ERR_CLI_USAGE");
    assert.match(stderr, /unknown option '--mqtt-prot'/);
  });

  test("an option without its value is a usage error", () => {
    assertUsageError(robustmq("start", "--config"), "RMQ_ERR_CLI_USAGE");
  });

  test("no command prints help and exits 2", () => {
    const result = robustmq();
    assert.equal(result.status, EXIT_USAGE);
    assert.match(result.stderr, /Usage: robustmq/);
  });

  test("bin/robustmq.js is an executable shim for src/cli/main.ts", () => {
    const shim = join(root, "bin/robustmq.js");
    const text = readFileSync(shim, "utf8");
    assert.ok(text.startsWith("#!/usr/bin/env node\n"));
    assert.ok(text.includes('import "../src/cli/main.ts";'));
    const result = spawnSync(nodeBin, [shim, "--version"], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
  });
});

describe("ctl and its environment variables", () => {
  test("--help does not show ROBUSTMQ_PASSWORD's value, only the variable's name", () => {
    const secret = "s3cret-from-env";
    for (const args of [
      ["ctl", "--help"],
      ["ctl", "status", "--help"],
      ["help", "ctl"],
    ]) {
      const result = robustmqWithEnv({ ROBUSTMQ_PASSWORD: secret }, ...args);
      assert.equal(result.status, 0, result.stderr);
      const output = result.stdout + result.stderr;
      assert.ok(!output.includes(secret), `${args.join(" ")} shows the password:\n${output}`);
    }
    const help = robustmqWithEnv({ ROBUSTMQ_PASSWORD: secret }, "ctl", "--help").stdout;
    assert.match(help, /--password <password>\s+admin password \(env ROBUSTMQ_PASSWORD\)/);
  });

  test("a bad ROBUSTMQ_SERVER is a usage error, like a bad --server", () => {
    for (const server of ["ftp://127.0.0.1:1", "not-a-url"]) {
      const env = { ROBUSTMQ_SERVER: server, ROBUSTMQ_TOKEN: "t" };
      const stderr = assertUsageError(robustmqWithEnv(env, "ctl", "status"), "RMQ_ERR_CLI_USAGE");
      assert.match(stderr, /ROBUSTMQ_SERVER/);
    }
    // A typed --server wins over the variable, bad or not.
    const typed = robustmqWithEnv(
      { ROBUSTMQ_SERVER: "ftp://127.0.0.1:1", ROBUSTMQ_TOKEN: "t" },
      ...["ctl", "--server", "http://127.0.0.1:1", "status"],
    );
    assert.equal(typed.status, 1, typed.stderr);
    assert.match(typed.stderr, /^error RMQ_ERR_CTL_UNREACHABLE: /);
  });
});

// A real start, then a clean SIGTERM shutdown.
describe("lifecycle", () => {
  test("SIGTERM stops the node and exits 0", async () => {
    const file = writeFile(
      "lifecycle.toml",
      `http_port = 0\ngrpc_port = 0\ndata_dir = "${join(dir, "data")}"\n` +
        '[network]\nbind_address = "127.0.0.1"\ntcp_port = 0\n[log]\nformat = "json"\n[kafka]\nport = 0\n' +
        "[mqtt_ws]\nport = 0\n",
    );
    const child = spawn(nodeBin, [mainScript, "start", "--config", file], { cwd: dir });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const started = Date.now();
    while (stdout === "" && Date.now() - started < 10_000 && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(child.exitCode, null, `exited early:\n${stdout}`);
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stdout);
  });
});
