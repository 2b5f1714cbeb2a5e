/**
 * Admin routes over the security layer (src/security/): built-in users, ACL rules and bans,
 * each changed at run time without a restart. Registered only when the node has a security
 * layer. Passwords go in and never come out: no answer and no log line holds one.
 *
 * The layer's own checks (a user that exists, an invalid topic filter or CIDR block, a config
 * rule that cannot be deleted) throw coded errors that http-errors.ts answers as 400 or 404.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { assert, ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { UserView } from "../security/authn/built-in.ts";
import { normalizeBanValue } from "../security/banned/ban-list.ts";
import type { Security } from "../security/security.ts";
import {
  type AclAction,
  type AclPermission,
  type AclRule,
  type AclRuleSpec,
  BAN_KINDS,
  type Ban,
  type BanKind,
} from "../security/types.ts";
import { sendError } from "./http-errors.ts";
import {
  aclAddBody,
  aclDeletedReply,
  aclIdParams,
  aclRuleSchema,
  banAddBody,
  banAddReply,
  banDeletedReply,
  banParams,
  banSchema,
  commonErrors,
  errorSchema,
  pageOf,
  pageQuery,
  queryObject,
  userAddBody,
  userDeletedReply,
  usernameParams,
  userSchema,
  userUpdateBody,
} from "./schemas.ts";
import { paginate } from "./views.ts";

interface PageQuery {
  limit: number;
  offset: number;
}

/** A built-in user as the API shows it: never the password or its hash. */
export interface UserReply {
  username: string;
  superuser: boolean;
  createdAt: string;
}

/** An ACL rule as the API shows it; null matchers match anyone. */
export interface AclRuleReply {
  id: string;
  source: AclRule["source"];
  permission: AclPermission;
  action: AclAction;
  topic: string;
  username: string | null;
  client_id: string | null;
  ip: string | null;
}

export interface BanReply {
  kind: BanKind;
  value: string;
  reason: string;
  createdAt: string;
  /** null: the ban never lapses. */
  expiresAt: string | null;
}

interface AclAddRequest {
  permission: AclPermission;
  action: AclAction;
  topic: string;
  username?: string | null;
  client_id?: string | null;
  ip?: string | null;
  before?: string;
}

interface BanAddRequest {
  kind: BanKind;
  value: string;
  duration_s?: number;
  reason?: string;
}

export function userReply(user: UserView): UserReply {
  return {
    username: user.username,
    superuser: user.superuser,
    createdAt: new Date(user.createdAtMs).toISOString(),
  };
}

export function aclRuleReply(rule: AclRule): AclRuleReply {
  return {
    id: rule.id,
    source: rule.source,
    permission: rule.permission,
    action: rule.action,
    topic: rule.topic,
    username: rule.username ?? null,
    client_id: rule.client_id ?? null,
    ip: rule.ip ?? null,
  };
}

export function banReply(ban: Ban): BanReply {
  return {
    kind: ban.kind,
    value: ban.value,
    reason: ban.reason,
    createdAt: new Date(ban.createdAtMs).toISOString(),
    expiresAt: ban.untilMs === 0 ? null : new Date(ban.untilMs).toISOString(),
  };
}

/** The rule a request asks for; null and absent matchers both mean "anyone". */
export function aclSpecOf(body: AclAddRequest): AclRuleSpec {
  const spec: { -readonly [K in keyof AclRuleSpec]: AclRuleSpec[K] } = {
    permission: body.permission,
    action: body.action,
    topic: body.topic,
  };
  if (body.username != null) spec.username = body.username;
  if (body.client_id != null) spec.client_id = body.client_id;
  if (body.ip != null) spec.ip = body.ip;
  return spec;
}

/** The ban a request asks for, from `nowMs`; duration 0 or absent bans forever. */
export function banOf(body: BanAddRequest, nowMs: number): Ban {
  const durationS = body.duration_s ?? 0;
  assert(Number.isSafeInteger(durationS) && durationS >= 0, "schema checked the duration");
  return {
    kind: body.kind,
    value: body.value,
    reason: body.reason ?? "",
    createdAtMs: nowMs,
    untilMs: durationS === 0 ? 0 : nowMs + durationS * 1000,
  };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bans by kind (client_id, username, ip), then value, so pages follow one another. */
export function sortBans(bans: Ban[]): Ban[] {
  return bans.sort(
    (a, b) =>
      BAN_KINDS.indexOf(a.kind) - BAN_KINDS.indexOf(b.kind) || byCodeUnits(a.value, b.value),
  );
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, message);
}

export function registerSecurityRoutes(
  app: FastifyInstance,
  security: Security,
  logger: Logger,
): void {
  registerUserReads(app, security);
  registerUserWrites(app, security, logger);
  registerAclRoutes(app, security, logger);
  registerBanRoutes(app, security, logger);
}

function registerUserReads(app: FastifyInstance, security: Security): void {
  app.get<{ Querystring: PageQuery }>(
    "/users",
    {
      schema: {
        summary: "List built-in MQTT users, sorted by user name (never their passwords)",
        tags: ["security"],
        querystring: queryObject({ ...pageQuery }),
        response: { 200: pageOf(userSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const users = security.users.list().sort((a, b) => byCodeUnits(a.username, b.username));
      const page = paginate(users, offset, limit);
      return { data: page.data.map(userReply), meta: page.meta };
    },
  );
  app.get<{ Params: { username: string } }>(
    "/users/:username",
    {
      schema: {
        summary: "One built-in user (URL-encode the name)",
        tags: ["security"],
        params: usernameParams,
        response: { 200: userSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const user = security.users.get(request.params.username);
      if (user === undefined) return notFound(reply, `no user "${request.params.username}"`);
      return userReply(user);
    },
  );
}

function registerUserWrites(app: FastifyInstance, security: Security, logger: Logger): void {
  app.post<{ Body: { username: string; password: string; superuser?: boolean } }>(
    "/users",
    {
      schema: {
        summary: "Add a built-in user (400 if the name is taken)",
        tags: ["security"],
        body: userAddBody,
        response: { 201: userSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { username, password, superuser = false } = request.body;
      const user = await security.users.add(username, password, superuser);
      logger.info({ username, superuser }, "user added by an administrator");
      return reply.code(201).send(userReply(user));
    },
  );
  app.put<{ Params: { username: string }; Body: { password?: string; superuser?: boolean } }>(
    "/users/:username",
    {
      schema: {
        summary: "Change a user's password and/or superuser flag",
        tags: ["security"],
        params: usernameParams,
        body: userUpdateBody,
        response: { 200: userSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request) => {
      const { username } = request.params;
      const { password, superuser } = request.body;
      const user = await security.users.update(username, { password, superuser });
      const passwordChanged = password !== undefined;
      logger.info({ username, superuser, passwordChanged }, "user changed by an administrator");
      return userReply(user);
    },
  );
  app.delete<{ Params: { username: string } }>(
    "/users/:username",
    {
      schema: {
        summary: "Delete a built-in user (connected clients stay until they reconnect)",
        tags: ["security"],
        params: usernameParams,
        response: { 200: userDeletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { username } = request.params;
      if (!(await security.users.delete(username))) {
        return notFound(reply, `no user "${username}"`);
      }
      logger.info({ username }, "user deleted by an administrator");
      return { username, deleted: true };
    },
  );
}

function registerAclRoutes(app: FastifyInstance, security: Security, logger: Logger): void {
  app.get<{ Querystring: PageQuery }>(
    "/acl",
    {
      schema: {
        summary: "ACL rules in evaluation order: config file rules, then API rules",
        tags: ["security"],
        querystring: queryObject({ ...pageQuery }),
        response: { 200: pageOf(aclRuleSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = paginate([...security.aclRules.list()], offset, limit);
      return { data: page.data.map(aclRuleReply), meta: page.meta };
    },
  );
  app.post<{ Body: AclAddRequest }>(
    "/acl",
    {
      schema: {
        summary: "Add an ACL rule, last or just before the API rule `before`",
        tags: ["security"],
        body: aclAddBody,
        response: { 201: aclRuleSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { before } = request.body;
      const spec = aclSpecOf(request.body);
      const rule = await security.aclRules.add(spec, before === undefined ? {} : { before });
      logger.info({ rule, before }, "ACL rule added by an administrator");
      return reply.code(201).send(aclRuleReply(rule));
    },
  );
  app.delete<{ Params: { id: string } }>(
    "/acl/:id",
    {
      schema: {
        summary: "Delete an API rule (config file rules are read-only: 400)",
        tags: ["security"],
        params: aclIdParams,
        response: { 200: aclDeletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await security.aclRules.delete(id))) return notFound(reply, `no ACL rule ${id}`);
      logger.info({ id }, "ACL rule deleted by an administrator");
      return { id, deleted: true };
    },
  );
}

function registerBanRoutes(app: FastifyInstance, security: Security, logger: Logger): void {
  app.get<{ Querystring: PageQuery }>(
    "/banned",
    {
      schema: {
        summary: "Bans in force, by kind then value",
        tags: ["security"],
        querystring: queryObject({ ...pageQuery }),
        response: { 200: pageOf(banSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = paginate(sortBans(security.bans.list(Date.now())), offset, limit);
      return { data: page.data.map(banReply), meta: page.meta };
    },
  );
  app.post<{ Body: BanAddRequest }>(
    "/banned",
    {
      schema: {
        summary: "Ban a client id, user name or IP address / CIDR block; disconnects it now",
        tags: ["security"],
        body: banAddBody,
        response: { 201: banAddReply, ...commonErrors },
      },
    },
    async (request, reply) => {
      const ban = banOf(request.body, Date.now());
      const kicked = await security.ban(ban);
      // Shown as stored and listed: an ip ban's value in canonical form ("0::1" as "::1").
      const stored = { ...ban, value: normalizeBanValue(ban.kind, ban.value) };
      return reply.code(201).send({ ban: banReply(stored), kicked });
    },
  );
  app.delete<{ Params: { kind: BanKind; value: string } }>(
    "/banned/:kind/:value",
    {
      schema: {
        summary: "Lift a ban (URL-encode the value: 10.0.0.0%2F8 for 10.0.0.0/8)",
        tags: ["security"],
        params: banParams,
        response: { 200: banDeletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { kind, value } = request.params;
      if (!(await security.unban(kind, value))) return notFound(reply, `no ${kind} ban "${value}"`);
      logger.info({ kind, value }, "ban lifted by an administrator");
      return { kind, value, deleted: true };
    },
  );
}
