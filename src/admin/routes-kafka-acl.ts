/**
 * Admin routes over the Kafka ACL ([kafka_acl], docs/kafka.md "Authorization"): the rules in
 * evaluation order, and API rules added and deleted at run time without a restart. A change is
 * on disk and in force for every Kafka connection before the answer.
 */
import type { FastifyInstance } from "fastify";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { KafkaAclAction, KafkaAclRuleSpec } from "../security/acl/kafka-acl.ts";
import type { KafkaAclRule } from "../security/acl/kafka-rule-book.ts";
import type { Security } from "../security/security.ts";
import type { AclPermission } from "../security/types.ts";
import { sendError } from "./http-errors.ts";
import {
  aclDeletedReply,
  aclIdParams,
  commonErrors,
  errorSchema,
  kafkaAclAddBody,
  kafkaAclRuleSchema,
  pageOf,
  pageQuery,
  queryObject,
} from "./schemas.ts";
import { paginate } from "./views.ts";

interface KafkaAclAddRequest {
  permission: AclPermission;
  action: KafkaAclAction | "all";
  topic?: string;
  group?: string;
  username?: string | null;
  before?: string;
}

/** A rule as the API shows it: topic or group (the other null); a null username: anyone. */
function ruleReply(rule: KafkaAclRule) {
  const { id, source, permission, action } = rule;
  const topic = rule.topic ?? null;
  const group = rule.group ?? null;
  return { id, source, permission, action, topic, group, username: rule.username ?? null };
}

/** The rule a request asks for; the rule book's schema checks it (topic or group, ...). */
function specOf(body: KafkaAclAddRequest): KafkaAclRuleSpec {
  const { permission, action, topic, group, username } = body;
  return {
    permission,
    action,
    ...(topic === undefined ? {} : { topic }),
    ...(group === undefined ? {} : { group }),
    ...(username == null ? {} : { username }),
  };
}

export function registerKafkaAclRoutes(
  app: FastifyInstance,
  security: Security,
  logger: Logger,
): void {
  const rules = security.kafkaAclRules;
  app.get<{ Querystring: { limit: number; offset: number } }>(
    "/kafka/acl",
    {
      schema: {
        summary: "Kafka ACL rules in evaluation order: config file rules, then API rules",
        tags: ["kafka"],
        querystring: queryObject({ ...pageQuery }),
        response: { 200: pageOf(kafkaAclRuleSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = paginate([...rules.list()], offset, limit);
      return { data: page.data.map(ruleReply), meta: page.meta };
    },
  );
  app.post<{ Body: KafkaAclAddRequest }>(
    "/kafka/acl",
    {
      schema: {
        summary:
          "Add a Kafka ACL rule (on a topic or a group), last or before the API rule `before`",
        tags: ["kafka"],
        body: kafkaAclAddBody,
        response: { 201: kafkaAclRuleSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { before } = request.body;
      const rule = await rules.add(specOf(request.body), before === undefined ? {} : { before });
      logger.info({ rule, before }, "Kafka ACL rule added by an administrator");
      return reply.code(201).send(ruleReply(rule));
    },
  );
  app.delete<{ Params: { id: string } }>(
    "/kafka/acl/:id",
    {
      schema: {
        summary: "Delete a Kafka ACL API rule (config file rules are read-only: 400)",
        tags: ["kafka"],
        params: aclIdParams,
        response: { 200: aclDeletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await rules.delete(id))) {
        return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, `no Kafka ACL rule ${id}`);
      }
      logger.info({ id }, "Kafka ACL rule deleted by an administrator");
      return { id, deleted: true };
    },
  );
}
