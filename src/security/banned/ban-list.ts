/**
 * Banned client ids, user names and IP addresses / CIDR blocks, checked on every CONNECT.
 * Kept in memory and written through to the security store (keyed `${kind}\0${value}`), so a
 * check never touches the disk: client id and user name are one Map lookup each, an exact IP
 * address one lookup by its canonical text, and CIDR blocks one BlockList test; only a hit in
 * that BlockList looks at the blocks one by one to find which ban it was and whether it lapsed.
 *
 * A ban lapses at `untilMs` (0 = never). A lapsed ban never matches and is not listed; it
 * leaves memory and the store at the next `purgeExpired`.
 */

import { BlockList, isIP, SocketAddress } from "node:net";
import type { Database } from "lmdb";
import { assert, ErrorCode, RobustMQError } from "../../errors.ts";
import { lmdbWrite } from "../../storage/lmdb-writes.ts";
import { isIpOrCidr } from "../acl/rule-schema.ts";
import { BAN_KINDS, type Ban, type BanKind } from "../types.ts";

/** Live bans held at most; flapping bans lapse, so purging makes room again. */
export const BAN_COUNT_MAX = 1_000_000;
/** A ban's value is a client id, user name or address: MQTT strings are at most this long. */
const BAN_VALUE_LENGTH_MAX = 65_535;
const BAN_REASON_LENGTH_MAX = 1024;

export interface BanSubject {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly ip: string;
}

function banKey(kind: BanKind, value: string): string {
  return `${kind}\0${value}`;
}

function isLive(ban: Ban, nowMs: number): boolean {
  return ban.untilMs === 0 || ban.untilMs > nowMs;
}

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/**
 * One spelling per address, so "::1" and "0::1", or "::ffff:10.0.0.1" and "10.0.0.1", are the
 * same key. Returns null for text that is not an address.
 */
export function canonicalIp(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return null;
  const canonical = new SocketAddress({ address, family: "ipv6" }).address;
  const mapped = canonical.startsWith("::ffff:") ? canonical.slice("::ffff:".length) : "";
  return isIP(mapped) === 4 ? mapped : canonical;
}

function addCidr(list: BlockList, cidr: string): void {
  const slash = cidr.indexOf("/");
  assert(slash > 0, "a CIDR block has a prefix length");
  const address = cidr.slice(0, slash);
  list.addSubnet(address, Number(cidr.slice(slash + 1)), familyOf(address));
}

/**
 * The stored spelling of a ban value: ip bans use the canonical address (so "0::1" and "::1"
 * are one ban, with one key); client ids and user names are taken as they are.
 */
export function normalizeBanValue(kind: BanKind, value: string): string {
  if (kind !== "ip") return value;
  const slash = value.indexOf("/");
  if (slash < 0) return canonicalIp(value) ?? value;
  const address = value.slice(0, slash);
  const canonical =
    isIP(address) === 6 ? new SocketAddress({ address, family: "ipv6" }).address : address;
  return `${canonical}${value.slice(slash)}`;
}

/**
 * Whether a ban names this client, lapsed or not: for disconnecting the live clients a new
 * ban covers (the broker walks its connections once per ban).
 */
export function banCovers(ban: Ban, who: BanSubject): boolean {
  if (ban.kind === "client_id") return ban.value === who.clientId;
  if (ban.kind === "username") return who.username !== undefined && ban.value === who.username;
  const address = canonicalIp(who.ip);
  if (address === null) return false;
  const value = normalizeBanValue("ip", ban.value);
  if (!value.includes("/")) return value === address;
  const list = new BlockList();
  addCidr(list, value);
  return list.check(address, familyOf(address));
}

function invalid(message: string): RobustMQError {
  return new RobustMQError(ErrorCode.ADMIN_INVALID_REQUEST, message);
}

/** Operating errors (a bad API request) are thrown as coded errors, not asserted. */
function validateBan(ban: Ban): void {
  if (!BAN_KINDS.includes(ban.kind)) throw invalid(`ban kind must be one of ${BAN_KINDS}`);
  if (typeof ban.value !== "string" || ban.value.length === 0) {
    throw invalid("ban value must not be empty");
  }
  if (ban.value.length > BAN_VALUE_LENGTH_MAX) throw invalid("ban value is too long");
  if (ban.kind === "ip" && !isIpOrCidr(ban.value)) {
    throw invalid(`ip ban ${JSON.stringify(ban.value)} is not an IP address or CIDR block`);
  }
  if (typeof ban.reason !== "string" || ban.reason.length > BAN_REASON_LENGTH_MAX) {
    throw invalid(`ban reason must be a string of at most ${BAN_REASON_LENGTH_MAX} characters`);
  }
  for (const field of ["createdAtMs", "untilMs"] as const) {
    const value = ban[field];
    if (!Number.isSafeInteger(value) || value < 0)
      throw invalid(`${field} must be an integer >= 0`);
  }
}

export class BanList {
  readonly #db: Database<Ban, string>;
  readonly #clientIds: Map<string, Ban>;
  readonly #usernames: Map<string, Ban>;
  /** Exact address bans by canonical address. */
  readonly #addresses: Map<string, Ban>;
  /** CIDR bans by value, each with its own BlockList to tell which one matched. */
  readonly #cidrs: Map<string, { readonly ban: Ban; readonly list: BlockList }>;
  /** Every CIDR in #cidrs, to answer the common "no CIDR matches" in one test. */
  #anyCidr: BlockList;

  private constructor(db: Database<Ban, string>) {
    this.#db = db;
    this.#clientIds = new Map();
    this.#usernames = new Map();
    this.#addresses = new Map();
    this.#cidrs = new Map();
    this.#anyCidr = new BlockList();
  }

  /** Reads the live bans; lapsed ones stay in the store until `purgeExpired`. */
  static load(db: Database<Ban, string>, nowMs: number): BanList {
    const bans = new BanList(db);
    for (const { key, value } of db.getRange()) {
      try {
        validateBan(value);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `ban store ${key}: ${detail}`);
      }
      const normalized = normalizeBanValue(value.kind, value.value);
      if (normalized !== value.value || key !== banKey(value.kind, value.value)) {
        throw new RobustMQError(ErrorCode.STORAGE_CORRUPT, `ban store ${key}: key or value`);
      }
      if (isLive(value, nowMs)) bans.#remember(value);
    }
    return bans;
  }

  /** How many bans are in memory, lapsed or not (for tests and metrics). */
  get size(): number {
    return this.#clientIds.size + this.#usernames.size + this.#addresses.size + this.#cidrs.size;
  }

  /**
   * Stores a ban, replacing one of the same kind and value; in force once on disk. An ip
   * ban's value is stored in canonical form ("::ffff:10.0.0.1" as "10.0.0.1").
   */
  async add(ban: Ban): Promise<void> {
    validateBan(ban);
    const value = normalizeBanValue(ban.kind, ban.value);
    const replacing = this.#lookup(ban.kind, value) !== undefined;
    if (!replacing && this.size >= BAN_COUNT_MAX) {
      throw new RobustMQError(ErrorCode.ADMIN_BUSY, `at most ${BAN_COUNT_MAX} bans are held`);
    }
    const stored: Ban = {
      kind: ban.kind,
      value,
      reason: ban.reason,
      createdAtMs: ban.createdAtMs,
      untilMs: ban.untilMs,
    };
    await lmdbWrite(this.#db.put(banKey(ban.kind, value), stored));
    this.#remember(stored);
    assert(this.#lookup(ban.kind, value) === stored, "ban in force after add");
  }

  /** Lifts a ban; false when there was none of this kind and value. */
  async delete(kind: BanKind, value: string): Promise<boolean> {
    const normalized = BAN_KINDS.includes(kind) ? normalizeBanValue(kind, value) : value;
    // `remove` resolves true whether or not the key was there; removeSync tells.
    const key = banKey(kind, normalized);
    const removed = await lmdbWrite(this.#db.transaction(() => this.#db.removeSync(key)));
    const known = BAN_KINDS.includes(kind) && this.#forget(kind, normalized);
    return removed || known;
  }

  /** The bans in force at `nowMs`. */
  list(nowMs: number): Ban[] {
    return this.#all().filter((ban) => isLive(ban, nowMs));
  }

  /** The ban in force that covers this client, or null. Client id wins, then user, then ip. */
  match(who: BanSubject, nowMs: number): Ban | null {
    const byClientId = this.#clientIds.get(who.clientId);
    if (byClientId !== undefined && isLive(byClientId, nowMs)) return byClientId;
    if (who.username !== undefined) {
      const byUsername = this.#usernames.get(who.username);
      if (byUsername !== undefined && isLive(byUsername, nowMs)) return byUsername;
    }
    return this.#matchIp(who.ip, nowMs);
  }

  /** Removes lapsed bans from memory and the store; returns how many left the store. */
  async purgeExpired(nowMs: number): Promise<number> {
    const lapsed: string[] = [];
    for (const { key, value } of this.#db.getRange()) {
      if (!isLive(value, nowMs)) lapsed.push(key);
    }
    let removed = 0;
    if (lapsed.length > 0) {
      await lmdbWrite(
        this.#db.transaction(() => {
          for (const key of lapsed) {
            // Read again inside the transaction: an add may have renewed the ban meanwhile.
            const current = this.#db.get(key);
            if (current !== undefined && !isLive(current, nowMs) && this.#db.removeSync(key)) {
              removed++;
            }
          }
        }),
      );
    }
    for (const ban of this.#all()) {
      if (!isLive(ban, nowMs)) this.#forget(ban.kind, ban.value, false);
    }
    this.#rebuildCidrUnion();
    return removed;
  }

  #all(): Ban[] {
    const all = [...this.#clientIds.values(), ...this.#usernames.values()];
    all.push(...this.#addresses.values());
    for (const { ban } of this.#cidrs.values()) all.push(ban);
    return all;
  }

  #matchIp(ip: string, nowMs: number): Ban | null {
    const canonical = canonicalIp(ip);
    if (canonical === null) return null;
    const exact = this.#addresses.get(canonical);
    if (exact !== undefined && isLive(exact, nowMs)) return exact;
    if (this.#cidrs.size === 0) return null;
    const family = familyOf(canonical);
    if (!this.#anyCidr.check(canonical, family)) return null;
    for (const { ban, list } of this.#cidrs.values()) {
      if (isLive(ban, nowMs) && list.check(canonical, family)) return ban;
    }
    return null;
  }

  /** The ban held for this kind and normalized value, lapsed or not. */
  #lookup(kind: BanKind, value: string): Ban | undefined {
    if (kind === "client_id") return this.#clientIds.get(value);
    if (kind === "username") return this.#usernames.get(value);
    if (value.includes("/")) return this.#cidrs.get(value)?.ban;
    return this.#addresses.get(value);
  }

  #remember(ban: Ban): void {
    if (ban.kind === "client_id") this.#clientIds.set(ban.value, ban);
    else if (ban.kind === "username") this.#usernames.set(ban.value, ban);
    else if (ban.value.includes("/")) {
      const list = new BlockList();
      addCidr(list, ban.value);
      addCidr(this.#anyCidr, ban.value); // a duplicate when replacing: harmless
      this.#cidrs.set(ban.value, { ban, list });
    } else {
      assert(canonicalIp(ban.value) === ban.value, "ip ban values are stored canonical");
      this.#addresses.set(ban.value, ban);
    }
  }

  /**
   * Drops a ban from memory; true when it was there. A BlockList cannot remove a rule, so
   * dropping a CIDR rebuilds the union from what is left (once per batch when `rebuild` is
   * false and the caller calls #rebuildCidrUnion itself).
   */
  #forget(kind: BanKind, value: string, rebuild = true): boolean {
    if (kind === "client_id") return this.#clientIds.delete(value);
    if (kind === "username") return this.#usernames.delete(value);
    if (!value.includes("/")) return this.#addresses.delete(value);
    if (!this.#cidrs.delete(value)) return false;
    if (rebuild) this.#rebuildCidrUnion();
    return true;
  }

  #rebuildCidrUnion(): void {
    this.#anyCidr = new BlockList();
    for (const cidr of this.#cidrs.keys()) addCidr(this.#anyCidr, cidr);
  }
}
