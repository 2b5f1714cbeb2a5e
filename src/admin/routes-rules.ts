/**
 * Admin routes over topic rules (src/broker/mqtt/rules/): topic rewrite and auto-subscribe
 * rules, listed in evaluation order (config file rules first, read-only), added (in force at
 * once, stored in `<data_dir>/rules`) and deleted. Registered only when the node has them.
 *
 * The rule books' own checks (an expression that does not compile, a destination naming a
 * group the expression lacks, a config rule that cannot be deleted) throw coded errors that
 * http-errors.ts answers as 400 or 404.
 */
import type { FastifyInstance } from "fastify";
import type { AutoSubscribeBook } from "../broker/mqtt/rules/auto-subscriber.ts";
import { REWRITE_REGEX_CHARS_MAX } from "../broker/mqtt/rules/limits.ts";
import type { RewriteBook } from "../broker/mqtt/rules/topic-rewrite.ts";
import { REWRITE_ACTIONS } from "../broker/mqtt/rules/types.ts";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { RuleIdentity } from "../storage/rule-book.ts";
import { sendError } from "./http-errors.ts";
import { QUERY_STRING_CHARS_MAX } from "./limits.ts";
import { commonErrors, errorSchema, pageOf, pageQuery, queryObject } from "./schemas.ts";
import { paginate } from "./views.ts";

type Schema = Record<string, unknown>;

const str = { type: "string" } as const;
const bool = { type: "boolean" } as const;
const level = { type: "integer", enum: [0, 1, 2] } as const;
const name = { type: "string", minLength: 1, maxLength: QUERY_STRING_CHARS_MAX } as const;
const source = { type: "string", enum: ["config", "api"] } as const;
const action = { type: "string", enum: [...REWRITE_ACTIONS] } as const;

function object(properties: Record<string, Schema>, required = Object.keys(properties)): Schema {
  return { type: "object", properties, required, additionalProperties: false };
}

const rewriteRuleSchema = object({
  id: str,
  source,
  action,
  source_topic: str,
  re: str,
  dest_topic: str,
});
const rewriteAddBody = object(
  {
    action,
    source_topic: name,
    re: { type: "string", minLength: 1, maxLength: REWRITE_REGEX_CHARS_MAX },
    dest_topic: name,
    before: name,
  },
  ["action", "source_topic", "re", "dest_topic"],
);
const autoSubscribeRuleSchema = object({
  id: str,
  source,
  topic: str,
  qos: level,
  no_local: bool,
  retain_as_published: bool,
  retain_handling: level,
});
const autoSubscribeAddBody = object(
  {
    topic: name,
    qos: level,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: level,
    before: name,
  },
  ["topic"],
);
const idParams = object({ id: name });
const deletedReply = object({ id: str, deleted: bool });

interface PageQuery {
  limit: number;
  offset: number;
}

/** What a route needs of a rule book; both kinds of book have it. */
interface Book<Rule extends RuleIdentity> {
  list(): readonly Rule[];
  add(input: unknown, options?: { readonly before?: string }): Promise<Rule>;
  delete(id: string): Promise<boolean>;
}

interface RuleRoutes {
  /** "/topic-rewrite" */
  readonly path: string;
  /** "topic rewrite rule", for summaries and log lines. */
  readonly noun: string;
  readonly ruleSchema: Schema;
  readonly addBody: Schema;
}

export function registerRuleRoutes(
  app: FastifyInstance,
  rewrite: RewriteBook,
  autoSubscribe: AutoSubscribeBook,
  logger: Logger,
): void {
  registerBookRoutes(app, rewrite, logger, {
    path: "/topic-rewrite",
    noun: "topic rewrite rule",
    ruleSchema: rewriteRuleSchema,
    addBody: rewriteAddBody,
  });
  registerBookRoutes(app, autoSubscribe, logger, {
    path: "/auto-subscribe",
    noun: "auto-subscribe rule",
    ruleSchema: autoSubscribeRuleSchema,
    addBody: autoSubscribeAddBody,
  });
}

function registerBookRoutes<Rule extends RuleIdentity>(
  app: FastifyInstance,
  book: Book<Rule>,
  logger: Logger,
  routes: RuleRoutes,
): void {
  const { path, noun, ruleSchema, addBody } = routes;
  app.get<{ Querystring: PageQuery }>(
    path,
    {
      schema: {
        summary: `${noun}s in evaluation order: config file rules, then API rules`,
        tags: ["rules"],
        querystring: queryObject({ ...pageQuery }),
        response: { 200: pageOf(ruleSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      return paginate([...book.list()], offset, limit);
    },
  );
  app.post<{ Body: Record<string, unknown> & { before?: string } }>(
    path,
    {
      schema: {
        summary: `Add a ${noun}, last or just before the API rule \`before\`; in force at once`,
        tags: ["rules"],
        body: addBody,
        response: { 201: ruleSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { before, ...spec } = request.body;
      const rule = await book.add(spec, before === undefined ? {} : { before });
      logger.info({ rule, before }, `${noun} added by an administrator`);
      return reply.code(201).send(rule);
    },
  );
  app.delete<{ Params: { id: string } }>(
    `${path}/:id`,
    {
      schema: {
        summary: `Delete an API ${noun} (config file rules are read-only: 400)`,
        tags: ["rules"],
        params: idParams,
        response: { 200: deletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await book.delete(id))) {
        return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, `no ${noun} ${id}`);
      }
      logger.info({ id }, `${noun} deleted by an administrator`);
      return { id, deleted: true };
    },
  );
}
