/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
 * balancer sends before the client's bytes, so that we see the client's address, not its own.
 *
 * Written here rather than taken from npm: the packages parse a header already cut out of the
 * stream, but finding where it ends in a byte stream and refusing malformed addresses (the
 * part that matters for a header an attacker may send) is most of the work.
 */
import { isIP } from "node:net";

/** The v2 signature: "\r\n\r\n\0\r\nQUIT\n". */
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V2_FIXED_BYTES = 16;
const V1_SIGNATURE = Buffer.from("PROXY ", "latin1");
/** Longest v1 line, CRLF included (the specification's bound). */
export const V1_HEADER_BYTES_MAX = 107;

const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_INET_ADDRESS_BYTES = 12;
const V2_INET6_ADDRESS_BYTES = 36;

export interface ProxySource {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  /** More bytes are needed. */
  | { readonly kind: "incomplete" }
  | { readonly kind: "invalid"; readonly reason: string }
  /**
   * A whole header of `headerBytes` bytes. `source` is null when the header carries no client
   * address (v1 UNKNOWN, v2 LOCAL or a non-IP family): the connection's own peer is used.
   */
  | { readonly kind: "ok"; readonly headerBytes: number; readonly source: ProxySource | null };

const INCOMPLETE: ProxyHeaderResult = { kind: "incomplete" };

/** True while `data` could still become `signature` (or already starts with it). */
function mayStartWith(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length);
  return data.subarray(0, n).equals(signature.subarray(0, n));
}

/** Parses a PROXY header at the start of `data`. */
export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (data.length === 0) return INCOMPLETE;
  if (mayStartWith(data, V2_SIGNATURE)) return parseV2(data);
  if (mayStartWith(data, V1_SIGNATURE)) return parseV1(data);
  return { kind: "invalid", reason: "no PROXY protocol header" };
}

function parseV1(data: Buffer): ProxyHeaderResult {
  const end = data.subarray(0, V1_HEADER_BYTES_MAX).indexOf("\r\n", 0, "latin1");
  if (end < 0) {
    if (data.length >= V1_HEADER_BYTES_MAX) {
      return { kind: "invalid", reason: "PROXY v1 header longer than 107 bytes" };
    }
    return INCOMPLETE;
  }
  const headerBytes = end + 2;
  const fields = data.toString("latin1", 0, end).split(" ");
  const family = fields[1];
  if (family === "UNKNOWN") return { kind: "ok", headerBytes, source: null };
  if (fields.length !== 6 || (family !== "TCP4" && family !== "TCP6")) {
    return { kind: "invalid", reason: "malformed PROXY v1 header" };
  }
  const [, , source, destination, sourcePort, destinationPort] = fields;
  const ipVersion = family === "TCP4" ? 4 : 6;
  if (isIP(source) !== ipVersion || isIP(destination) !== ipVersion) {
    return { kind: "invalid", reason: `PROXY v1 header with a bad ${family} address` };
  }
  const port = v1Port(sourcePort);
  if (port === null || v1Port(destinationPort) === null) {
    return { kind: "invalid", reason: "PROXY v1 header with a bad port" };
  }
  return { kind: "ok", headerBytes, source: { address: source, port } };
}

/** A port as v1 writes it: decimal, no leading zero, 0 to 65535. */
function v1Port(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65_535 ? port : null;
}

function parseV2(data: Buffer): ProxyHeaderResult {
  if (data.length < V2_FIXED_BYTES) return INCOMPLETE;
  const versionCommand = data[12];
  if (versionCommand >> 4 !== 2) {
    return { kind: "invalid", reason: "PROXY v2 header with an unknown version" };
  }
  const command = versionCommand & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) {
    return { kind: "invalid", reason: "PROXY v2 header with an unknown command" };
  }
  const length = data.readUInt16BE(14);
  const headerBytes = V2_FIXED_BYTES + length;
  if (data.length < headerBytes) return INCOMPLETE;
  // LOCAL: the balancer's own connection (a health check); addresses are to be ignored.
  if (command === V2_COMMAND_LOCAL) return { kind: "ok", headerBytes, source: null };
  const family = data[13] >> 4;
  const body = data.subarray(V2_FIXED_BYTES, headerBytes);
  if (family === V2_FAMILY_INET) {
    if (length < V2_INET_ADDRESS_BYTES) {
      return { kind: "invalid", reason: "PROXY v2 header too short for IPv4 addresses" };
    }
    const address = `${body[0]}.${body[1]}.${body[2]}.${body[3]}`;
    return { kind: "ok", headerBytes, source: { address, port: body.readUInt16BE(8) } };
  }
  if (family === V2_FAMILY_INET6) {
    if (length < V2_INET6_ADDRESS_BYTES) {
      return { kind: "invalid", reason: "PROXY v2 header too short for IPv6 addresses" };
    }
    return {
      kind: "ok",
      headerBytes,
      source: { address: ipv6Text(body), port: body.readUInt16BE(32) },
    };
  }
  // UNSPEC or a UNIX socket: nothing that identifies a remote client.
  return { kind: "ok", headerBytes, source: null };
}

/** The 16 bytes at the start of `bytes` as an IPv6 address in Node's form ("2001:db8::1"). */
function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Node's own formatting, so logged addresses look like those of direct connections.
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}
