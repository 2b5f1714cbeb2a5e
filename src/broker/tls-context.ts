import { readFileSync } from "node:fs";
import {
  createSecureContext,
  type PeerCertificate,
  type SecureContextOptions,
  type TLSSocket,
} from "node:tls";
import type { Config } from "../config/schema.ts";
import { ErrorCode, RobustMQError } from "../errors.ts";

type TlsConfig = Config["tls"];

/** What the TLS and WSS listeners need, checked once at start. */
export interface TlsSettings {
  /** Certificate, key, CA, minimum version and ciphers, for tls.createServer / https. */
  readonly options: SecureContextOptions;
  readonly verifyClient: boolean;
  readonly usernameFrom: TlsConfig["peer_cert_as_username"];
  readonly handshakeTimeoutMs: number;
}

function readKeyFile(key: keyof TlsConfig, path: string, listener: string): Buffer {
  if (path === "") {
    throw new RobustMQError(
      ErrorCode.CONFIG_INVALID,
      `${listener} is enabled but tls.${key} is not set: a TLS listener needs a certificate and its key`,
    );
  }
  try {
    return readFileSync(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new RobustMQError(ErrorCode.CONFIG_INVALID, `tls.${key} = "${path}": ${why}`);
  }
}

/**
 * Reads the certificate files and builds the TLS context; a missing file, a bad PEM, a key
 * that does not match the certificate or an unknown cipher stops start-up with the key named.
 * `listener` names the section that asked for TLS, for the message.
 */
export function loadTlsSettings(tls: TlsConfig, listener: string): TlsSettings {
  const options: SecureContextOptions = {
    cert: readKeyFile("cert_file", tls.cert_file, listener),
    key: readKeyFile("key_file", tls.key_file, listener),
    minVersion: tls.min_version,
  };
  if (tls.verify_client) {
    if (tls.ca_file === "") {
      throw new RobustMQError(
        ErrorCode.CONFIG_INVALID,
        "tls.verify_client = true needs tls.ca_file: the CA that signs client certificates",
      );
    }
    options.ca = readKeyFile("ca_file", tls.ca_file, listener);
  } else if (tls.ca_file !== "") {
    options.ca = readKeyFile("ca_file", tls.ca_file, listener);
  }
  if (tls.ciphers !== "") options.ciphers = tls.ciphers;
  try {
    // The servers build their own context from `options`; this one only proves it can be built.
    createSecureContext(options);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const keys =
      tls.ciphers === "" ? "cert_file, key_file, ca_file" : "cert_file, key_file, ca_file, ciphers";
    throw new RobustMQError(ErrorCode.CONFIG_INVALID, `[tls] (${keys}) is not usable: ${why}`);
  }
  return {
    options,
    verifyClient: tls.verify_client,
    usernameFrom: tls.peer_cert_as_username,
    handshakeTimeoutMs: tls.handshake_timeout_ms,
  };
}

/**
 * The user name a verified client certificate stands for: its subject CN, or its first
 * subjectAltName entry (DNS name, email, URI, ...) without the type prefix. Undefined when
 * the certificate lacks it or `from` is "none".
 */
export function certificateUsername(
  certificate: PeerCertificate,
  from: TlsSettings["usernameFrom"],
): string | undefined {
  if (from === "cn") {
    const cn: string | string[] | undefined = certificate.subject?.CN;
    const first = Array.isArray(cn) ? cn[0] : cn;
    return first === undefined || first === "" ? undefined : first;
  }
  if (from === "san") return firstAltName(certificate.subjectaltname);
  return undefined;
}

/** Node writes "DNS:a.example, email:x@y"; values with special characters are JSON-quoted. */
function firstAltName(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const match = /^[^:,]+:("(?:[^"\\]|\\.)*"|[^,]*)/.exec(text);
  if (match === null) return undefined;
  const raw = match[1];
  const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  return value === "" ? undefined : value;
}

/**
 * For a TLS socket whose handshake finished: why its client must be refused (no certificate,
 * or one the CA did not sign, or expired), or null when it may go on.
 */
export function clientCertificateProblem(socket: TLSSocket, settings: TlsSettings): string | null {
  if (!settings.verifyClient || socket.authorized) return null;
  // OpenSSL reports a missing certificate as a chain it could not build (UNABLE_TO_GET_ISSUER_CERT).
  if (Object.keys(socket.getPeerCertificate()).length === 0)
    return "no client certificate presented";
  const error = socket.authorizationError;
  return `client certificate not accepted: ${error instanceof Error ? error.message : String(error)}`;
}

/** The user name the socket's verified certificate carries, if the settings ask for one. */
export function socketCertificateUsername(
  socket: TLSSocket,
  settings: TlsSettings,
): string | undefined {
  if (!settings.verifyClient || !socket.authorized || settings.usernameFrom === "none") {
    return undefined;
  }
  return certificateUsername(socket.getPeerCertificate(), settings.usernameFrom);
}
