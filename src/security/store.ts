/**
 * Run-time security state in one LMDB environment at `<data_dir>/security`: built-in users,
 * ACL rules added through the admin API, and bans. Each part keeps its own copy in memory and
 * writes through to its database, so checks never touch the disk; a write is acknowledged once
 * LMDB reports it flushed, so a change the API confirmed survives a crash.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Database, RootDatabase } from "lmdb";
import { openLmdb } from "../storage/lmdb-writes.ts";
import type { KafkaAclRule } from "./acl/kafka-rule-book.ts";
import type { ScramCredential, ScramMechanism } from "./scram.ts";
import type { AclRule, Ban } from "./types.ts";

/**
 * A built-in user as stored: never the password, only its salted scrypt hash and, for Kafka's
 * SASL/SCRAM, the salted SCRAM keys derived from it.
 */
export interface StoredUser {
  readonly username: string;
  readonly superuser: boolean;
  readonly createdAtMs: number;
  /** "scrypt$N$r$p$<salt base64>$<hash base64>" */
  readonly passwordHash: string;
  /**
   * Set whenever the password is; absent on records written before SCRAM existed, whose users
   * can use SCRAM only once their password is set again.
   */
  readonly scram?: Partial<Record<ScramMechanism, ScramCredential>>;
}

export class SecurityStore {
  readonly #env: RootDatabase;
  readonly users: Database<StoredUser, string>;
  readonly aclRules: Database<AclRule, string>;
  readonly kafkaAclRules: Database<KafkaAclRule, string>;
  /** Keyed by `${kind}\0${value}`. */
  readonly bans: Database<Ban, string>;

  private constructor(env: RootDatabase) {
    this.#env = env;
    this.users = env.openDB<StoredUser, string>({ name: "users" });
    this.aclRules = env.openDB<AclRule, string>({ name: "acl" });
    this.kafkaAclRules = env.openDB<KafkaAclRule, string>({ name: "kafka_acl" });
    this.bans = env.openDB<Ban, string>({ name: "bans" });
  }

  static open(dataDir: string): SecurityStore {
    const path = join(dataDir, "security");
    mkdirSync(path, { recursive: true });
    return new SecurityStore(openLmdb({ path, maxDbs: 8 }));
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
