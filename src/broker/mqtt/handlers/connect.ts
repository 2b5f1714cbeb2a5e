import { randomBytes } from "node:crypto";
import { ConnackCodeV3, type QoS, ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { ConnectPacket, Properties } from "../../../protocol/mqtt/packets.ts";
import type { Security } from "../../../security/security.ts";
import type { Principal } from "../../../security/types.ts";
import type { AuthStep } from "../auth.ts";
import { countAuthFailure, passwordFailureReason } from "../auth-failures.ts";
import { ConnectionState, type MqttConnection } from "../connection.ts";
import { TokenBucket } from "../rate-limit.ts";
import { applyAutoSubscribe } from "../rules/auto-subscriber.ts";
import { isSysTopic, topicLevelCount, validateResponseTopic, validateTopicName } from "../topic.ts";
import { transportUsername } from "../transports/peer-identity.ts";

/** What a CONNECT decided, kept while an authentication exchange runs. */
export interface ConnectPlan {
  cleanStart: boolean;
  expiryIntervalS: number;
  requestedExpiryS: number;
  keepAliveS: number;
  serverKeepAliveS: number | undefined;
  assignedClientId: boolean;
  requestResponseInformation: boolean;
  /** MQTT 5 enhanced authentication asked for by the CONNECT. */
  authMethod: string | undefined;
  authData: Buffer | undefined;
}

/** v5 CONNACK reason -> v3 return code; null where v3 has none (the socket is just closed). */
function v3ReturnCode(reasonCode: number): number | null {
  switch (reasonCode) {
    case ReasonCode.UNSUPPORTED_PROTOCOL_VERSION:
      return ConnackCodeV3.UNACCEPTABLE_PROTOCOL_VERSION;
    case ReasonCode.CLIENT_IDENTIFIER_NOT_VALID:
      return ConnackCodeV3.IDENTIFIER_REJECTED;
    case ReasonCode.SERVER_UNAVAILABLE:
    case ReasonCode.SERVER_BUSY:
    case ReasonCode.QUOTA_EXCEEDED:
      return ConnackCodeV3.SERVER_UNAVAILABLE;
    case ReasonCode.BAD_USER_NAME_OR_PASSWORD:
      return ConnackCodeV3.BAD_USER_NAME_OR_PASSWORD;
    case ReasonCode.NOT_AUTHORIZED:
    case ReasonCode.BANNED:
      return ConnackCodeV3.NOT_AUTHORIZED;
    default:
      return null;
  }
}

/** Refuses a CONNECT with a CONNACK failure code [MQTT-3.2.2-6, -7] and closes. */
export function refuseConnect(conn: MqttConnection, reasonCode: number, why: string): void {
  conn.broker.logger.info(
    { clientId: conn.clientId, remote: conn.remoteAddress, reasonCode },
    `connection refused: ${why}`,
  );
  conn.broker.stats.connectionsRefused++;
  if (conn.isV5) {
    const properties: Properties | undefined = conn.problemInfo ? { reasonString: why } : undefined;
    conn.sendPacket({ type: "connack", sessionPresent: false, reasonCode, properties });
  } else {
    const code = v3ReturnCode(reasonCode);
    if (code !== null)
      conn.sendPacket({ type: "connack", sessionPresent: false, reasonCode: code });
  }
  conn.close(why, false);
}

export function handleConnect(conn: MqttConnection, packet: ConnectPacket): void {
  const broker = conn.broker;
  const protocol = broker.config.mqtt_protocol_config;
  const limits = broker.config.mqtt_limits;
  conn.protocolVersion = packet.protocolVersion;
  conn.parser.protocolVersion = packet.protocolVersion;
  conn.state = ConnectionState.AUTHENTICATING;
  conn.clientId = packet.clientId;
  // A verified client certificate names the user; the CONNECT cannot claim another.
  conn.username = transportUsername(conn.stream) ?? packet.username;
  const v5 = packet.protocolVersion === 5;
  const props = packet.properties;
  if (props?.requestProblemInformation === 0) conn.problemInfo = false;

  let assignedClientId = false;
  if (packet.clientId === "") {
    // 3.1 requires 1-23 characters; 3.1.1 allows empty only with a clean session [MQTT-3.1.3-8].
    if (packet.protocolVersion === 3 || (packet.protocolVersion === 4 && !packet.cleanStart)) {
      refuseConnect(conn, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, "empty client identifier");
      return;
    }
    conn.clientId = `auto-${randomBytes(12).toString("hex")}`; // [MQTT-3.1.3-6]
    assignedClientId = true;
  } else if (Buffer.byteLength(packet.clientId) > limits.max_client_id_length) {
    refuseConnect(conn, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, "client identifier too long");
    return;
  }
  const will = packet.will;
  if (will !== undefined) {
    if (!validateTopicName(will.topic) || topicLevelCount(will.topic) > limits.max_topic_levels) {
      refuseConnect(conn, ReasonCode.TOPIC_NAME_INVALID, "invalid will topic");
      return;
    }
    const responseTopic = will.properties?.responseTopic;
    if (responseTopic !== undefined && !validateResponseTopic(responseTopic)) {
      // [MQTT-3.3.2-14] as in a PUBLISH: the will would be sent on with it.
      refuseConnect(conn, ReasonCode.PROTOCOL_ERROR, "wildcard in will Response Topic");
      return;
    }
    if (isSysTopic(will.topic) && will.topic.startsWith("$SYS")) {
      // A will is published by the broker for the client: the PUBLISH rule on $SYS applies.
      refuseConnect(conn, ReasonCode.NOT_AUTHORIZED, "will topic in $SYS");
      return;
    }
    if (v5 && will.qos > protocol.max_qos) {
      refuseConnect(conn, ReasonCode.QOS_NOT_SUPPORTED, "will QoS above maximum QoS"); // [MQTT-3.2.2-12]
      return;
    }
    if (v5 && will.retain && !protocol.retain_available) {
      refuseConnect(conn, ReasonCode.RETAIN_NOT_SUPPORTED, "retained will not supported"); // [MQTT-3.2.2-13]
      return;
    }
    // v3 has no CONNACK code for these: its will is kept within the limits instead.
    const qos = will.qos > protocol.max_qos ? (protocol.max_qos as QoS) : will.qos;
    const retain = will.retain && protocol.retain_available;
    conn.will = qos === will.qos && retain === will.retain ? will : { ...will, qos, retain };
  }
  // A client taking over its own live session frees the slot it takes.
  const takesOver = broker.sessions.get(conn.clientId)?.link != null;
  if (broker.connectedClients >= limits.max_connections && !takesOver) {
    broker.stats.connectionsRefusedLimit++;
    refuseConnect(conn, ReasonCode.QUOTA_EXCEEDED, "maximum connections reached");
    return;
  }

  conn.sendWindow = Math.min(
    v5 ? (props?.receiveMaximum ?? 65535) : 65535,
    limits.max_inflight_messages,
  );
  conn.clientMaxPacketBytes = props?.maximumPacketSize ?? 0;
  conn.topicAliasMaxOut = props?.topicAliasMaximum ?? 0;

  const requestedExpiryS = v5 ? (props?.sessionExpiryInterval ?? 0) : 0;
  const expiryIntervalS = v5
    ? Math.min(requestedExpiryS, protocol.max_session_expiry_interval)
    : packet.cleanStart
      ? 0
      : protocol.max_session_expiry_interval;
  let keepAliveS = packet.keepAlive;
  let serverKeepAliveS: number | undefined;
  const cap = protocol.max_keep_alive;
  if (v5 && cap > 0 && (keepAliveS === 0 || keepAliveS > cap)) {
    keepAliveS = cap; // [MQTT-3.2.2-21] the client must use the Server Keep Alive
    serverKeepAliveS = cap;
  }
  const plan: ConnectPlan = {
    cleanStart: packet.cleanStart,
    expiryIntervalS,
    requestedExpiryS,
    keepAliveS,
    serverKeepAliveS,
    assignedClientId,
    requestResponseInformation: props?.requestResponseInformation === 1,
    authMethod: v5 ? props?.authenticationMethod : undefined,
    authData: props?.authenticationData,
  };
  conn.connectPlan = plan;

  const security = broker.security;
  if (security === null) {
    beginAuthExchange(conn);
    return;
  }
  const ip = ipOf(conn.remoteAddress);
  const ban = security.banned({ clientId: conn.clientId, username: conn.username, ip });
  if (ban !== null) {
    broker.stats.bannedRefused++;
    refuseConnect(conn, ReasonCode.BANNED, `banned (${ban.kind})`);
    return;
  }
  const principal = { clientId: conn.clientId, username: conn.username, ip, superuser: false };
  if (security.openAccess) {
    admit(conn, security, principal);
    return;
  }
  // Nothing after the CONNECT is read until the client is admitted [MQTT-3.1.4-5].
  conn.pauseReading();
  security
    .authenticate({
      clientId: conn.clientId,
      username: conn.username,
      password: packet.password,
      ip,
      certificateUsername: transportUsername(conn.stream),
    })
    .then(
      (decision) => {
        if (conn.state === ConnectionState.CLOSED) return;
        conn.resumeReading();
        if (!decision.allowed) {
          countAuthFailure(broker.stats, passwordFailureReason(decision.reasonCode));
          refuseConnect(conn, decision.reasonCode, `not authenticated: ${decision.reason}`);
          return;
        }
        admit(conn, security, { ...principal, superuser: decision.superuser });
      },
      (err: unknown) => {
        broker.logger.error({ err, clientId: conn.clientId }, "authentication failed to run");
        if (conn.state === ConnectionState.CLOSED) return;
        conn.resumeReading();
        countAuthFailure(broker.stats, "error");
        refuseConnect(conn, ReasonCode.UNSPECIFIED_ERROR, "authentication failed to run");
      },
    )
    .catch(closeOnBug(conn));
}

/** For the end of a callback chain: a throw in it ends this connection, not the process. */
function closeOnBug(conn: MqttConnection): (err: unknown) => void {
  return (err) => {
    conn.broker.logger.error(
      { err, clientId: conn.clientId },
      "closing connection: internal error",
    );
    conn.close("internal error", true);
  };
}

/** "203.0.113.7:51234" or "::1:51234" -> the address part. */
function ipOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(":");
  return colon < 0 ? remoteAddress : remoteAddress.slice(0, colon);
}

/** An authenticated client: its will must be a topic it may publish to. */
function admit(conn: MqttConnection, security: Security, principal: Principal): void {
  conn.principal = principal;
  conn.aclCache = security.newCache();
  const will = conn.will;
  if (will !== null && !security.mayPublish(principal, conn.aclCache, will.topic)) {
    conn.broker.stats.aclDenied++;
    refuseConnect(conn, ReasonCode.NOT_AUTHORIZED, "will topic not authorized");
    return;
  }
  beginAuthExchange(conn);
}

/** MQTT 5 enhanced authentication when the CONNECT names a method; otherwise admitted. */
function beginAuthExchange(conn: MqttConnection): void {
  const method = conn.connectPlan?.authMethod;
  if (method === undefined) {
    completeConnect(conn, undefined);
    return;
  }
  const authenticator = conn.broker.authenticators.get(method);
  if (authenticator === undefined) {
    countAuthFailure(conn.broker.stats, "bad_method");
    refuseConnect(
      conn,
      ReasonCode.BAD_AUTHENTICATION_METHOD,
      `unknown authentication method ${JSON.stringify(method.slice(0, 64))}`,
    );
    return;
  }
  conn.authMethod = method;
  runAuthStep(conn, authenticator.start(authContext(conn), conn.connectPlan?.authData));
}

export function authContext(conn: MqttConnection) {
  return { clientId: conn.clientId, username: conn.username, remoteAddress: conn.remoteAddress };
}

/** Applies an authentication step, waiting for it when the authenticator is asynchronous. */
export function runAuthStep(conn: MqttConnection, step: AuthStep | Promise<AuthStep>): void {
  if (step instanceof Promise) {
    step
      .then(
        (s) => applyAuthStep(conn, s),
        (err: unknown) => {
          conn.broker.logger.warn(
            { clientId: conn.clientId, err: String(err) },
            "authenticator failed",
          );
          applyAuthStep(conn, { result: "fail", reasonCode: ReasonCode.UNSPECIFIED_ERROR });
        },
      )
      .catch(closeOnBug(conn));
    return;
  }
  applyAuthStep(conn, step);
}

function applyAuthStep(conn: MqttConnection, step: AuthStep): void {
  if (conn.state === ConnectionState.CLOSED) return;
  const connecting = conn.state === ConnectionState.AUTHENTICATING;
  if (step.result === "continue") {
    conn.authState = step.state;
    conn.authAwaitingClient = true;
    conn.sendPacket({
      type: "auth",
      reasonCode: ReasonCode.CONTINUE_AUTHENTICATION,
      properties: { authenticationMethod: conn.authMethod, authenticationData: step.data },
    });
    return;
  }
  conn.authState = undefined;
  if (step.result === "fail") {
    const code = step.reasonCode ?? ReasonCode.NOT_AUTHORIZED;
    if (connecting) {
      countAuthFailure(conn.broker.stats, "enhanced_auth");
      refuseConnect(conn, code, "authentication failed");
    } else conn.protocolError(code, "re-authentication failed"); // [MQTT-4.12.1-2]
    return;
  }
  if (connecting) {
    completeConnect(conn, step.data);
    return;
  }
  conn.sendPacket({
    type: "auth",
    reasonCode: ReasonCode.SUCCESS,
    properties: { authenticationMethod: conn.authMethod, authenticationData: step.data },
  });
}

/** Session set-up and CONNACK once the client is admitted. */
function completeConnect(conn: MqttConnection, authData: Buffer | undefined): void {
  const broker = conn.broker;
  const plan = conn.connectPlan;
  if (plan === null) return;
  conn.connectPlan = null;
  conn.requestedExpiryS = plan.requestedExpiryS;
  const sessionPresent = broker.openSession(conn, plan.cleanStart, plan.expiryIntervalS);
  conn.state = ConnectionState.CONNECTED;
  const limits = broker.config.mqtt_limits;
  const nowMs = Date.now();
  if (limits.max_message_rate > 0)
    conn.messageRate = new TokenBucket(limits.max_message_rate, nowMs);
  if (limits.max_bytes_rate > 0) conn.byteRate = new TokenBucket(limits.max_bytes_rate, nowMs);
  const properties = conn.isV5 ? connackProperties(conn, plan, authData) : undefined;
  // [MQTT-3.2.2-1, -2] session present is 0 whenever clean start was requested.
  conn.sendPacket({ type: "connack", sessionPresent, reasonCode: 0, properties });
  conn.startKeepAlive(plan.keepAliveS);
  broker.logger.debug(
    { clientId: conn.clientId, remote: conn.remoteAddress, version: conn.protocolVersion },
    "client connected",
  );
  if (sessionPresent) conn.resendInflight();
  applyAutoSubscribe(conn); // after the CONNACK, like a SUBSCRIBE the client sent
  conn.pump();
}

function connackProperties(
  conn: MqttConnection,
  plan: ConnectPlan,
  authData: Buffer | undefined,
): Properties {
  const protocol = conn.broker.config.mqtt_protocol_config;
  const p: Properties = {};
  if (plan.expiryIntervalS !== plan.requestedExpiryS)
    p.sessionExpiryInterval = plan.expiryIntervalS;
  if (protocol.receive_max < 65535) p.receiveMaximum = protocol.receive_max;
  if (protocol.max_qos < 2) p.maximumQoS = protocol.max_qos;
  if (!protocol.retain_available) p.retainAvailable = 0;
  p.maximumPacketSize = protocol.max_packet_size;
  if (plan.assignedClientId) p.assignedClientIdentifier = conn.clientId; // [MQTT-3.2.2-16]
  if (protocol.topic_alias_max > 0) p.topicAliasMaximum = protocol.topic_alias_max;
  if (!protocol.wildcard_subscription_available) p.wildcardSubscriptionAvailable = 0;
  if (!protocol.subscription_identifier_available) p.subscriptionIdentifierAvailable = 0;
  if (!protocol.shared_subscription_available) p.sharedSubscriptionAvailable = 0;
  if (plan.serverKeepAliveS !== undefined) p.serverKeepAlive = plan.serverKeepAliveS;
  if (plan.requestResponseInformation) p.responseInformation = `response/${conn.clientId}`;
  if (conn.authMethod !== undefined) {
    p.authenticationMethod = conn.authMethod;
    if (authData !== undefined) p.authenticationData = authData;
  }
  return p;
}
