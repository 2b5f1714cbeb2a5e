/**
 * The Kafka listener of a broker node: a TCP server, its connections, and the topic store under
 * `<data_dir>/kafka`. Started by src/node/node.ts when the node has the broker role and
 * `[kafka] enable` is true.
 */
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Config } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import type { Security } from "../../security/security.ts";
import type { LogOptions } from "../../storage/log/index.ts";
import { type ListenerAddress, listenOn } from "../listen.ts";
import { loadTlsSettings } from "../tls-context.ts";
import { KafkaAclBindingStore } from "./acl-bindings-store.ts";
import type { FetchByteCounts } from "./answer-leases.ts";
import { configEntries } from "./config-entries.ts";
import { KafkaConnection, type RequestTiming } from "./connection.ts";
import { CoordinatorShell } from "./groups/coordinator-shell.ts";
import { OffsetStore } from "./groups/offset-store.ts";
import type { KafkaSettings } from "./handler-context.ts";
import { buildHandlers } from "./handlers/index.ts";
import { ProducerStates } from "./producers/producer-states.ts";
import { ReadBufferPool } from "./read-buffers.ts";
import { KafkaAuthentication } from "./sasl/authentication.ts";
import { createKafkaTlsServer } from "./tls-server.ts";
import { TopicStore } from "./topic-store.ts";
import { loadZeroCopy, ZeroCopy } from "./zero-copy.ts";

/** Kafka consumers' default max.partition.fetch.bytes: the usual size of one Fetch read. */
const ANSWER_BUFFER_BYTES = 1024 * 1024;
/** Idle answer buffers kept for reuse (32 MiB at most). */
const ANSWER_BUFFERS_IDLE_MAX = 32;

interface OffsetExpirySettings {
  retentionMs: number;
  checkIntervalMs: number;
  logger: Logger;
}

export class KafkaBroker {
  readonly address: ListenerAddress;
  readonly store: TopicStore;
  readonly offsets: OffsetStore;
  readonly groups: CoordinatorShell;
  readonly authentication: KafkaAuthentication;
  /** Per-request timing; a no-op until the node's metrics install an observer. */
  readonly requestTiming: RequestTiming;
  /** Record bytes of Fetch answers by how they were sent (sendfile or copied). */
  readonly fetchBytes: FetchByteCounts;
  readonly #server: Server;
  readonly #expiryTimer: NodeJS.Timeout;
  readonly #connections: Set<KafkaConnection>;
  readonly #sockets: Set<Socket>;
  readonly #security: Security;

  private constructor(
    address: ListenerAddress,
    store: TopicStore,
    offsets: OffsetStore,
    groups: CoordinatorShell,
    server: Server,
    connections: Set<KafkaConnection>,
    sockets: Set<Socket>,
    requestTiming: RequestTiming,
    fetchBytes: FetchByteCounts,
    authentication: KafkaAuthentication,
    security: Security,
    settings: OffsetExpirySettings,
  ) {
    this.#security = security;
    this.requestTiming = requestTiming;
    this.fetchBytes = fetchBytes;
    this.authentication = authentication;
    this.address = address;
    this.store = store;
    this.offsets = offsets;
    this.groups = groups;
    this.#server = server;
    this.#connections = connections;
    this.#sockets = sockets;
    this.#expiryTimer = setInterval(() => void this.#expireOffsets(), settings.checkIntervalMs);
    this.#expiryTimer.unref();
    this.#offsetRetentionMs = settings.retentionMs;
    this.#logger = settings.logger;
  }

  readonly #offsetRetentionMs: number;
  readonly #logger: Logger;

  /** Offsets of groups without members expire offsets_retention_ms after their last commit. */
  async #expireOffsets(): Promise<void> {
    const coordinator = this.groups.coordinator;
    const isEmpty = (groupId: string) => (coordinator.group(groupId)?.members.size ?? 0) === 0;
    try {
      const expired = await this.offsets.expire(Date.now(), this.#offsetRetentionMs, isEmpty);
      if (expired.length > 0) this.#logger.info({ groups: expired }, "committed offsets expired");
    } catch (err) {
      this.#logger.warn({ err }, "expiring committed offsets failed; retried later");
    }
  }

  static async start(config: Config, logger: Logger, security: Security): Promise<KafkaBroker> {
    const kafka = config.kafka;
    const authentication = new KafkaAuthentication(config, security);
    const dropped = kafka.sasl_mechanisms.filter((m) => !authentication.mechanisms.includes(m));
    // Without any authenticator SASL is off by design; with one, a dropped mechanism is a surprise.
    if (dropped.length > 0 && config.mqtt_auth.authenticators.length > 0) {
      logger.warn(
        { dropped, authenticators: config.mqtt_auth.authenticators },
        "Kafka SASL mechanisms not offered: nothing on this node can check them",
      );
    }
    logger.info(
      {
        mechanisms: authentication.mechanisms,
        allowAnonymous: authentication.allowAnonymous,
        tls: kafka.tls,
      },
      "Kafka authentication",
    );
    const tls = kafka.tls ? loadTlsSettings(config.tls, "[kafka] tls") : null;
    const logOptions: Partial<LogOptions> = {
      fsync_policy: kafka.fsync_policy,
      fsync_interval_ms: kafka.fsync_interval_ms,
      segment_bytes: kafka.segment_bytes,
      retention_ms: kafka.retention_ms,
      retention_bytes: kafka.retention_bytes,
      batch_bytes_max: Math.min(kafka.message_max_bytes, kafka.segment_bytes),
    };
    const directory = join(config.data_dir, "kafka");
    const store = await TopicStore.open(directory, logOptions, logger);
    let offsets: OffsetStore;
    try {
      offsets = OffsetStore.open(directory);
    } catch (err) {
      await store.close();
      throw err;
    }
    try {
      const orphans = await offsets.deleteTopicsOtherThan(
        (topic) => store.get(topic) !== undefined,
      );
      if (orphans.length > 0) {
        logger.warn({ topics: orphans }, "removed committed offsets of deleted topics");
      }
    } catch (err) {
      await offsets.close();
      await store.close();
      throw err;
    }
    const groups = new CoordinatorShell({
      minSessionTimeoutMs: kafka.group_min_session_timeout_ms,
      maxSessionTimeoutMs: kafka.group_max_session_timeout_ms,
      initialRebalanceDelayMs: kafka.group_initial_rebalance_delay_ms,
    });
    const settings: KafkaSettings = {
      brokerId: config.broker_id,
      clusterId: config.cluster_name,
      autoCreateTopics: kafka.auto_create_topics,
      defaultPartitions: kafka.default_partitions,
      advertisedHost: kafka.advertised_host,
      advertisedPort: kafka.advertised_port,
      configEntries: configEntries(config),
    };
    const requestTiming: RequestTiming = { observe: () => {} };
    const zeroCopy = kafka.zero_copy ? loadZeroCopy() : null;
    if (zeroCopy === null) logger.info("Kafka fetch answers are copied: kafka.zero_copy is off");
    else if (zeroCopy instanceof ZeroCopy) logger.info("Kafka fetch answers sent with sendfile");
    else logger.warn({ reason: zeroCopy.unavailable }, "Kafka fetch answers are copied");
    const fetchBytes: FetchByteCounts = { sendfile: 0, copied: 0 };
    const deps = {
      settings,
      store,
      groups,
      offsets,
      producers: new ProducerStates(),
      handlers: buildHandlers({ sasl: authentication.mechanisms.length > 0 }),
      logger,
      maxRequestBytes: kafka.max_request_bytes,
      answerBuffers: new ReadBufferPool(ANSWER_BUFFER_BYTES, ANSWER_BUFFERS_IDLE_MAX),
      zeroCopy: zeroCopy instanceof ZeroCopy ? zeroCopy : null,
      fetchBytes,
      requestTiming,
      authenticator: authentication,
      acl: security.kafkaAcl,
      aclBindings: new KafkaAclBindingStore(security.kafkaAclRules, logger),
      authTimeoutMs: kafka.auth_timeout_ms,
      idleMs: kafka.connections_max_idle_ms,
    };
    const connections = new Set<KafkaConnection>();
    const accept = (socket: Socket, principal: string | null) => {
      const ban = security.banned({
        clientId: "",
        username: principal ?? undefined,
        ip: socket.remoteAddress ?? "",
      });
      if (ban !== null) {
        logger.info(
          { remote: socket.remoteAddress, kind: ban.kind },
          "Kafka connection refused: banned",
        );
        socket.destroy();
        return;
      }
      const connection = new KafkaConnection(socket, deps, principal);
      connections.add(connection);
      socket.once("close", () => connections.delete(connection));
    };
    // Every TCP socket, TLS handshakes included: max_connections counts them, stop() ends them.
    const sockets = new Set<Socket>();
    const tlsServer = tls === null ? null : createKafkaTlsServer(tls, logger, accept);
    const server = createServer({ noDelay: true }, (socket) => {
      if (sockets.size >= kafka.max_connections) {
        logger.warn(
          { remote: socket.remoteAddress, maxConnections: kafka.max_connections },
          "Kafka connection refused: max_connections reached",
        );
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      if (tlsServer === null) accept(socket, null);
      else tlsServer.emit("connection", socket);
    });
    try {
      const address = await listenOn(
        server,
        config.network.bind_address,
        kafka.port,
        "kafka",
        logger,
      );
      const broker = new KafkaBroker(
        address,
        store,
        offsets,
        groups,
        server,
        connections,
        sockets,
        requestTiming,
        fetchBytes,
        authentication,
        security,
        {
          retentionMs: kafka.offsets_retention_ms,
          checkIntervalMs: kafka.offsets_retention_check_interval_ms,
          logger,
        },
      );
      return broker;
    } catch (err) {
      groups.stop();
      await store.close();
      await offsets.close();
      throw err;
    }
  }

  /** Ends the connections a ban now covers (security.kick); returns how many. */
  disconnectBanned(): number {
    let count = 0;
    for (const connection of this.#connections) {
      const ban = this.#security.banned(connection.banSubject);
      if (ban === null) continue;
      this.#logger.info(
        { ...connection.banSubject, kind: ban.kind },
        "Kafka connection closed: banned",
      );
      connection.destroy();
      count++;
    }
    return count;
  }

  /** Stops accepting, ends every connection (long polls return), then closes the logs. */
  async stop(): Promise<void> {
    clearInterval(this.#expiryTimer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.destroy();
    this.#connections.clear();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.groups.stop();
    await this.store.close();
    await this.offsets.close();
  }
}
