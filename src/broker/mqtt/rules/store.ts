/**
 * Topic rules' run-time state in one LMDB environment at `<data_dir>/rules`: the topic rewrite
 * and auto-subscribe rules added through the admin API, one database each. The config file's
 * rules come first in each list and are never stored. `TopicRules.open` builds what the
 * broker runs (TopicRewrite, AutoSubscribe) on top of the two rule books.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RootDatabase } from "lmdb";
import type { Config } from "../../../config/schema.ts";
import type { Logger } from "../../../log/logger.ts";
import { openLmdb } from "../../../storage/lmdb-writes.ts";
import { RuleBook } from "../../../storage/rule-book.ts";
import { AUTO_SUBSCRIBE_RULE_KIND, AutoSubscribe } from "./auto-subscriber.ts";
import { REWRITE_RULE_KIND, TopicRewrite } from "./topic-rewrite.ts";
import type { AutoSubscribeRule, RewriteRule } from "./types.ts";

/** The environment's directory under data_dir. */
export const RULES_DIR = "rules";

export class TopicRules {
  readonly rewrite: TopicRewrite;
  readonly autoSubscribe: AutoSubscribe;
  readonly #env: RootDatabase;

  private constructor(env: RootDatabase, rewrite: TopicRewrite, autoSubscribe: AutoSubscribe) {
    this.#env = env;
    this.rewrite = rewrite;
    this.autoSubscribe = autoSubscribe;
  }

  /** Opens `<data_dir>/rules` and loads both lists (config rules first). */
  static async open(config: Config, logger: Logger): Promise<TopicRules> {
    const path = join(config.data_dir, RULES_DIR);
    mkdirSync(path, { recursive: true });
    const env = openLmdb({ path, maxDbs: 4 });
    try {
      const rewriteDb = env.openDB<RewriteRule, string>({ name: "rewrite" });
      const autoDb = env.openDB<AutoSubscribeRule, string>({ name: "auto_subscribe" });
      const rewriteBook = RuleBook.load(
        rewriteDb,
        config.mqtt_topic_rewrite.rules,
        REWRITE_RULE_KIND,
      );
      const autoBook = RuleBook.load(
        autoDb,
        config.mqtt_auto_subscribe.rules,
        AUTO_SUBSCRIBE_RULE_KIND,
      );
      const rewrite = new TopicRewrite(rewriteBook, config.mqtt_limits.max_topic_levels, logger);
      return new TopicRules(env, rewrite, new AutoSubscribe(autoBook));
    } catch (err) {
      await env.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
