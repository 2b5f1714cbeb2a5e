/**
 * Option parsing of `robustmq bench mqtt ...`: defaults, every flag's bad values (each reported
 * with the flag, the value and what is allowed), combinations that do not go together, and all
 * problems reported at once.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CLIENTS_MAX, WORKERS_MAX } from "../../../src/bench/limits.ts";
import type { BenchCommand, RawBenchFlags } from "../../../src/bench/option-specs.ts";
import { OPTION_SPECS } from "../../../src/bench/option-specs.ts";
import {
  type BenchEnvironment,
  type BenchOptions,
  clientIdFor,
  parseBenchOptions,
} from "../../../src/bench/options.ts";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const environment: BenchEnvironment = {
  cpuCount: 4,
  pid: 4242,
  readFile(path: string): string {
    if (path === "ca.pem") return PEM;
    if (path === "not-pem.txt") return "hello";
    throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  },
};

function parse(command: BenchCommand, flags: RawBenchFlags): BenchOptions {
  return parseBenchOptions(command, flags, environment);
}

/** The problems the parse reports (its message lines), asserting it fails with the right code. */
function problems(command: BenchCommand, flags: RawBenchFlags): string {
  try {
    parse(command, flags);
  } catch (error) {
    assert.ok(error instanceof RobustMQError, String(error));
    assert.equal(error.code, ErrorCode.BENCH_INVALID_OPTION);
    return error.message;
  }
  assert.fail(`expected ${JSON.stringify(flags)} to be rejected`);
}

describe("defaults", () => {
  test("pub with no flags", () => {
    const options = parse("pub", {});
    assert.equal(options.host, "127.0.0.1");
    assert.equal(options.port, 1883);
    assert.equal(options.publisherCount, 1);
    assert.equal(options.subscriberCount, 0);
    assert.equal(options.qos, 0);
    assert.equal(options.payloadSizeBytes, 64);
    assert.equal(options.ratePerSecond, 0);
    assert.equal(options.inflightCountMax, 32);
    assert.equal(options.durationMs, 10_000);
    assert.equal(options.messageCountPerPublisher, null);
    assert.equal(options.topicPattern, "bench/%i");
    assert.equal(options.protocolVersion, 5);
    assert.equal(options.cleanStart, true);
    assert.equal(options.sessionExpirySeconds, null);
    assert.equal(options.keepAliveSeconds, 60);
    assert.equal(options.tls, null);
    assert.equal(options.sourceAddresses, null);
    assert.equal(options.clientIdPrefix, "rmq4242-");
    assert.equal(options.workerCount, 1, "never more workers than clients");
    assert.equal(options.json, false);
  });

  test("conn, sub and pubsub count their clients in their own fields", () => {
    assert.equal(parse("conn", { clients: "7" }).connectionCount, 7);
    assert.equal(parse("sub", { clients: "7" }).subscriberCount, 7);
    const pubsub = parse("pubsub", { publishers: "3", subscribers: "5" });
    assert.deepEqual(
      [pubsub.publisherCount, pubsub.subscriberCount, pubsub.connectionCount],
      [3, 5, 0],
    );
    assert.equal(pubsub.subscribeTopicPattern, pubsub.topicPattern, "--sub-topic defaults to -t");
  });

  test("--tls defaults the port to 8883 and reads --ca", () => {
    const options = parse("conn", { tls: true, ca: "ca.pem" });
    assert.equal(options.port, 8883);
    assert.deepEqual(options.tls, { caPem: PEM, insecure: false });
    assert.equal(parse("conn", { tls: true, port: "1884", insecure: true }).port, 1884);
  });

  test("-n without -d publishes for at most 600 s; -d wins when given", () => {
    assert.equal(parse("pub", { count: "100" }).durationMs, 600_000);
    assert.equal(parse("pub", { count: "100", duration: "2.5" }).durationMs, 2500);
    assert.equal(parse("pub", { count: "100" }).messageCountPerPublisher, 100);
  });

  test("workers: CPU count by default, never more than clients", () => {
    assert.equal(parse("conn", { clients: "100" }).workerCount, 4);
    assert.equal(parse("conn", { clients: "3" }).workerCount, 3);
    assert.equal(parse("conn", { clients: "100", workers: "8" }).workerCount, 8);
    assert.equal(parse("conn", { clients: "2", workers: "8" }).workerCount, 2);
  });

  test("numbers may use underscores; decimals where rates and times allow them", () => {
    assert.equal(parse("conn", { clients: "10_000" }).connectionCount, 10_000);
    assert.equal(parse("pub", { rate: "0.5" }).ratePerSecond, 0.5);
    assert.equal(parse("conn", { connectTimeout: "0.25" }).connectTimeoutMs, 250);
  });

  test("client ids are <prefix><role>-<index>", () => {
    const options = parse("pub", { clientIdPrefix: "load-" });
    assert.equal(clientIdFor(options, "pub", 12), "load-pub-12");
  });
});

/** [command, flags, flag named in the message, what the message must say]. */
const BAD_VALUES: Array<[BenchCommand, RawBenchFlags, string, RegExp]> = [
  ["conn", { host: " " }, "--host", /host name or address/],
  ["conn", { port: "0" }, "--port", /integer from 1 to 65535/],
  ["conn", { port: "65536" }, "--port", /integer from 1 to 65535/],
  ["conn", { port: "http" }, "--port", /integer/],
  ["conn", { clients: "0" }, "--clients", /integer from 1 to 1000000/],
  ["conn", { clients: "-5" }, "--clients", /integer from 1/],
  ["conn", { clients: "1.5" }, "--clients", /integer/],
  ["conn", { clients: String(CLIENTS_MAX + 1) }, "--clients", /to 1000000/],
  ["pubsub", { publishers: "0" }, "--publishers", /integer from 1/],
  ["pubsub", { subscribers: "x" }, "--subscribers", /integer from 1/],
  ["conn", { connRate: "-1" }, "--conn-rate", /number from 0/],
  ["conn", { connRate: "fast" }, "--conn-rate", /number from 0/],
  ["conn", { connectTimeout: "0" }, "--connect-timeout", /number from 0.001 to 600 \(seconds\)/],
  ["pub", { qos: "3" }, "--qos", /one of 0, 1, 2/],
  ["pub", { qos: "one" }, "--qos", /one of 0, 1, 2/],
  ["pub", { payloadSize: "-1" }, "--payload-size", /integer from 0 to 67108864/],
  ["pubsub", { payloadSize: "15" }, "--payload-size", /from 16 .*timestamp header/],
  ["pub", { payloadSize: "99999999999" }, "--payload-size", /to 67108864/],
  ["pub", { rate: "-3" }, "--rate", /number from 0 to 1000000/],
  ["pub", { rate: "1e3" }, "--rate", /number from 0/],
  ["pub", { inflight: "0" }, "--inflight", /integer from 1 to 65535/],
  ["pub", { inflight: "65536" }, "--inflight", /integer from 1 to 65535/],
  ["pub", { duration: "0" }, "--duration", /number from 0.001 to 86400 \(seconds\)/],
  ["conn", { duration: "forever" }, "--duration", /number from 0.001/],
  ["pub", { count: "0" }, "--count", /integer from 1/],
  ["pub", { topic: "" }, "--topic", /must not be empty/],
  ["pub", { topic: "a/%x" }, "--topic", /%x is not a placeholder/],
  ["pub", { topic: "a/%" }, "--topic", /a trailing % is not a placeholder/],
  ["pub", { topic: "a/+/%i" }, "--topic", /not a valid topic name to publish to/],
  ["pub", { topic: "a/#" }, "--topic", /not a valid topic name/],
  ["sub", { topic: "a/b#" }, "--topic", /not a valid topic filter/],
  ["sub", { topic: "$share//a" }, "--topic", /not a valid topic filter/],
  ["pubsub", { subTopic: "a/#/b" }, "--sub-topic", /not a valid topic filter/],
  ["pubsub", { subTopic: "%q" }, "--sub-topic", /%q is not a placeholder/],
  ["conn", { cleanStart: "yes" }, "--clean-start", /one of true, false/],
  ["conn", { sessionExpiry: "-1" }, "--session-expiry", /integer from 0 to 4294967295/],
  ["conn", { sessionExpiry: "4294967296" }, "--session-expiry", /to 4294967295/],
  ["conn", { keepalive: "65536" }, "--keepalive", /integer from 0 to 65535 \(seconds, 0 = off\)/],
  ["conn", { protocolVersion: "6" }, "--protocol-version", /one of 3, 4, 5/],
  ["conn", { protocolVersion: "3.1.1" }, "--protocol-version", /one of 3, 4, 5/],
  ["conn", { tls: true, ca: "missing.pem" }, "--ca", /readable PEM file \(ENOENT/],
  ["conn", { tls: true, ca: "not-pem.txt" }, "--ca", /no BEGIN CERTIFICATE/],
  ["conn", { sourceIp: "127.0.0" }, "--source-ip", /not an IPv4 address/],
  ["conn", { sourceIp: "127.0.0.9-127.0.0.2" }, "--source-ip", /ends before it starts/],
  ["conn", { workers: "0" }, "--workers", /integer from 1 to 64/],
  ["conn", { workers: String(WORKERS_MAX + 1) }, "--workers", /integer from 1 to 64/],
  ["conn", { clientIdPrefix: "a b" }, "--client-id-prefix", /white space/],
];

describe("every bad value is named with its flag, the value and what is allowed", () => {
  for (const [command, flags, flag, allowed] of BAD_VALUES) {
    const [key, value] = Object.entries(flags).at(-1) ?? ["", ""];
    test(`${command} ${flag} ${JSON.stringify(value)} (${key})`, () => {
      const message = problems(command, flags);
      const shown = typeof value === "string" ? JSON.stringify(value) : "";
      assert.ok(message.includes(`${flag} = ${shown}`), message);
      assert.match(message, allowed);
    });
  }

  test("every flag that takes a value has a bad-value case", () => {
    const tested = new Set(BAD_VALUES.map(([, , flag]) => flag));
    for (const spec of OPTION_SPECS) {
      const long = /--[a-z-]+/.exec(spec.flags)?.[0] ?? "";
      const takesValue = spec.flags.includes("<");
      const free = ["--username", "--password"].includes(long); // any text is a valid name
      if (takesValue && !free) assert.ok(tested.has(long), `no bad-value test for ${long}`);
    }
  });
});

describe("combinations", () => {
  test("--ca and --insecure need --tls", () => {
    assert.match(problems("conn", { ca: "ca.pem" }), /--ca = "ca.pem": needs --tls/);
    assert.match(problems("conn", { insecure: true }), /--insecure = "true": needs --tls/);
  });

  test("--session-expiry needs MQTT 5", () => {
    assert.match(
      problems("conn", { sessionExpiry: "60", protocolVersion: "4" }),
      /--session-expiry = "60": needs -V 5/,
    );
    assert.equal(parse("conn", { sessionExpiry: "60" }).sessionExpirySeconds, 60);
  });

  test("a password without a username is MQTT 5 only", () => {
    assert.match(
      problems("conn", { password: "secret", protocolVersion: "4" }),
      /--password = "\*\*\*": needs --username/,
    );
    assert.doesNotMatch(problems("conn", { password: "secret", protocolVersion: "4" }), /secret/);
    assert.equal(parse("conn", { password: "secret" }).password, "secret");
  });

  test("MQTT 3.1 client ids must fit in 23 characters", () => {
    const message = problems("conn", {
      protocolVersion: "3",
      clients: "100000",
      clientIdPrefix: "a-long-prefix-",
    });
    assert.match(
      message,
      /--client-id-prefix = "a-long-prefix-": makes client ids such as a-long-prefix-conn-99999 \(24 characters\)/,
    );
    assert.equal(parse("conn", { protocolVersion: "3", clients: "100000" }).protocolVersion, 3);
  });

  test("publishers and subscribers together are bounded", () => {
    const half = String(CLIENTS_MAX / 2 + 1);
    assert.match(
      problems("pubsub", { publishers: half, subscribers: half }),
      /together must be at most/,
    );
  });

  test("wildcards are fine in a subscription filter, not in a topic to publish to", () => {
    assert.equal(parse("sub", { topic: "bench/+/x/#" }).subscribeTopicPattern, "bench/+/x/#");
    assert.equal(parse("pubsub", { subTopic: "bench/#" }).subscribeTopicPattern, "bench/#");
    assert.equal(parse("pub", { payloadSize: "0" }).payloadSizeBytes, 0);
  });

  test("all problems are reported at once, one per line", () => {
    const message = problems("pubsub", { qos: "7", payloadSize: "4", port: "0", sourceIp: "x" });
    assert.match(message, /^invalid options, 4 problems:\n/);
    assert.equal(message.split("\n  - ").length, 5);
  });

  test("one problem fits on one line", () => {
    assert.equal(
      problems("pub", { qos: "9" }),
      'invalid option: --qos = "9": must be one of 0, 1, 2',
    );
  });
});
