/**
 * `--source-ip`: the local IPv4 addresses connections are opened from, so that one machine can
 * hold more connections to one broker address than one source address has ephemeral ports
 * (about 28,000 with Linux's default ip_local_port_range). Accepted forms, comma-separated:
 * a single address (`127.0.0.2`) or an inclusive range (`127.0.0.2-127.0.1.200`, which may
 * cross octets). Client i uses address i modulo the number of addresses.
 */
import { SOURCE_ADDRESSES_MAX } from "./limits.ts";

/** Consecutive addresses as 32-bit integers, `first` to `first + count - 1`. */
export interface AddressRange {
  first: number;
  count: number;
}

export interface SourceAddresses {
  ranges: AddressRange[];
  /** Addresses in all ranges together. */
  count: number;
}

export type SourceAddressesResult =
  | { ok: true; value: SourceAddresses }
  | { ok: false; problem: string };

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** The address as a 32-bit unsigned integer, or null unless it is dotted-quad IPv4. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return `${Math.floor(value / 0x1000000) % 256}.${Math.floor(value / 0x10000) % 256}.${Math.floor(value / 0x100) % 256}.${value % 256}`;
}

const ALLOWED =
  "must be IPv4 addresses or ranges, comma-separated (127.0.0.2, 127.0.0.2-127.0.0.50)";

function parseEntry(entry: string): AddressRange | string {
  const dash = entry.indexOf("-");
  const firstText = dash < 0 ? entry : entry.slice(0, dash);
  const lastText = dash < 0 ? entry : entry.slice(dash + 1);
  const first = parseIpv4(firstText.trim());
  const last = parseIpv4(lastText.trim());
  if (first === null || last === null) {
    const bad = first === null ? firstText : lastText;
    return `${JSON.stringify(bad.trim())} is not an IPv4 address; ${ALLOWED}`;
  }
  if (last < first) return `range ${entry} ends before it starts; ${ALLOWED}`;
  return { first, count: last - first + 1 };
}

export function parseSourceAddresses(text: string): SourceAddressesResult {
  const entries = text.split(",");
  const ranges: AddressRange[] = [];
  let count = 0;
  for (const entry of entries) {
    if (entry.trim() === "") return { ok: false, problem: `empty entry; ${ALLOWED}` };
    const range = parseEntry(entry.trim());
    if (typeof range === "string") return { ok: false, problem: range };
    ranges.push(range);
    count += range.count;
    if (count > SOURCE_ADDRESSES_MAX) {
      return { ok: false, problem: `more than ${SOURCE_ADDRESSES_MAX} addresses; ${ALLOWED}` };
    }
  }
  return { ok: true, value: { ranges, count } };
}

/** The source address of client `index`: the addresses are used round-robin. */
export function sourceAddressAt(addresses: SourceAddresses, index: number): string {
  let offset = index % addresses.count;
  for (const range of addresses.ranges) {
    if (offset < range.count) return formatIpv4(range.first + offset);
    offset -= range.count;
  }
  throw new Error(`assertion failed: source address offset ${offset} outside every range`);
}
