import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One certificate and its key, as file paths and PEM text. */
export interface CertPair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The certificates of the TLS tests, made by Debian's openssl in a temporary directory. */
export interface TestCerts {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  /** For localhost and 127.0.0.1, signed by the CA. */
  readonly server: CertPair;
  /** CN "alice", subjectAltName DNS "alice.devices.example", signed by the CA. */
  readonly alice: CertPair;
  /** CN "mallory", signed by another CA that the broker does not trust. */
  readonly mallory: CertPair;
  /** CN "old", signed by the CA, expired yesterday. */
  readonly expired: CertPair;
  remove(): void;
}

const OPENSSL_TIMEOUT_MS = 20_000;
/** P-256 keys: fast to make and to handshake with. */
const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe", timeout: OPENSSL_TIMEOUT_MS });
}

function pair(dir: string, name: string): CertPair {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

function makeCa(dir: string, name: string, subject: string): void {
  openssl(
    dir,
    ["req", "-x509", ...KEY_ARGS, "-keyout", `${name}.key`, "-out", `${name}.pem`].concat([
      "-days",
      "2",
      "-subj",
      subject,
    ]),
  );
}

/** A leaf certificate signed by `ca`; `days` -1 makes one that expired a day ago. */
function makeLeaf(dir: string, ca: string, name: string, subject: string, san: string, days = 2) {
  openssl(dir, [
    "req",
    ...KEY_ARGS,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName = ${san}\n`);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ]);
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "rmq-certs-"));
  makeCa(dir, "ca", "/CN=RobustMQ test CA");
  makeCa(dir, "rogue-ca", "/CN=Rogue CA");
  makeLeaf(dir, "ca", "server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1");
  makeLeaf(dir, "ca", "alice", "/CN=alice", "DNS:alice.devices.example");
  makeLeaf(dir, "rogue-ca", "mallory", "/CN=mallory", "DNS:mallory.example");
  makeLeaf(dir, "ca", "old", "/CN=old", "DNS:old.example", -1);
  const caFile = join(dir, "ca.pem");
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    server: pair(dir, "server"),
    alice: pair(dir, "alice"),
    mallory: pair(dir, "mallory"),
    expired: pair(dir, "old"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The [tls] section for these certificates, plus any extra `key = value` lines. */
export function tlsConfig(certs: TestCerts, extra = ""): string {
  return (
    `[tls]\ncert_file = "${certs.server.certFile}"\nkey_file = "${certs.server.keyFile}"\n` +
    `ca_file = "${certs.caFile}"\n${extra}`
  );
}
