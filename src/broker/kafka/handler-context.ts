import type { Logger } from "../../log/logger.ts";
import type { ApiKeyValue } from "../../protocol/kafka/api-keys.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../protocol/kafka/kafka-codec.ts";
import type { KafkaAclAction, KafkaGroupAction } from "../../security/acl/kafka-acl.ts";
import type { LogSlice, PartitionLog } from "../../storage/log/partition-log.ts";
import type { KafkaAclBindingStore } from "./acl-bindings-store.ts";
import type { ConfigEntries } from "./config-entries.ts";
import type { CoordinatorShell } from "./groups/coordinator-shell.ts";
import type { OffsetStore } from "./groups/offset-store.ts";
import type { SliceReadAhead } from "./handlers/slice-read-ahead.ts";
import type { ProducerStates } from "./producers/producer-states.ts";
import type { SaslSession } from "./sasl/sasl-session.ts";
import type { TopicStore } from "./topic-store.ts";

/** What the handlers need to know about the node and the [kafka] config. */
export interface KafkaSettings {
  brokerId: number;
  clusterId: string;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  /** Host and port clients are told to connect to; host "" = the connection's local address. */
  advertisedHost: string;
  advertisedPort: number;
  /** What DescribeConfigs reports. */
  configEntries: ConfigEntries;
}

/** One request as a handler sees it. */
export interface RequestContext {
  readonly settings: KafkaSettings;
  readonly store: TopicStore;
  readonly groups: CoordinatorShell;
  readonly offsets: OffsetStore;
  readonly producers: ProducerStates;
  readonly logger: Logger;
  readonly version: number;
  readonly clientId: string | null;
  /** The client's address, as DescribeGroups reports a member's host. */
  readonly remoteHost: string;
  /** Where this connection arrived, for Metadata's default advertised address. */
  readonly localAddress: { host: string; port: number };
  /** Aborted when the connection closes or the broker stops: long polls end early. */
  readonly signal: AbortSignal;
  /**
   * Lets the connection start its next request before this one is answered: called by a
   * handler once everything that must happen in request order is done (Produce: its appends
   * are queued), while it still waits (for the disk). Completing the handler releases too.
   */
  release(): void;
  /**
   * The records of a slice for this request's answer (Fetch): a stand-in for the file range
   * that the connection sends with sendfile where it can (zero-copy.ts), else the bytes, read
   * into a buffer reused once the answer is written.
   */
  readRecords(log: PartitionLog, slice: LogSlice): Promise<Buffer>;
  /** Gives back everything readRecords() gave: it will not be sent. */
  discardAnswerRecords(): void;
  /** This connection's next slices, located ahead for consumers reading in order (Fetch). */
  readonly readAhead: SliceReadAhead;
  /** This connection's SASL state. */
  readonly sasl: SaslSession;
  /** "address:port" of the client, for log lines. */
  readonly remote: string;
  /** Ends the connection once this request's answer is written (a failed SASL step). */
  closeAfterAnswer(): void;
  /** Closes the connection now, with a log line (a produce with acks 0 that failed later). */
  closeConnection(reason: string, fields: Record<string, unknown>): void;
  /** Whether this client may do `action` on `topic` ([kafka_acl]). */
  may(action: KafkaAclAction, topic: string): boolean;
  /** Whether this client may see `topic` at all (any action on it). */
  mayDescribe(topic: string): boolean;
  /** Whether this client may `read` (join, use, commit to) or `admin` (delete) the group. */
  mayGroup(action: KafkaGroupAction, group: string): boolean;
  /** Whether this client may see the group at all (FindCoordinator, DescribeGroups, ListGroups). */
  mayDescribeGroup(group: string): boolean;
  /** The [kafka_acl] rules as Kafka bindings (CreateAcls, DescribeAcls, DeleteAcls). */
  readonly aclBindings: KafkaAclBindingStore;
}

/**
 * A handler answers with a response body, or with null for no response at all (Produce with
 * acks = 0), or with "close" when the connection must be closed instead (Kafka's answer to a
 * failed acks = 0 produce, whose client would otherwise never learn of the failure).
 */
export type HandlerResult<K extends ApiKeyValue> = Encodable<ResponseBody<K>> | null | "close";

export interface ApiHandler<K extends ApiKeyValue> {
  apiKey: K;
  /** The versions served; maxVersion is also the one advertised in ApiVersions. */
  minVersion: number;
  maxVersion: number;
  /** The minimum advertised in ApiVersions when it differs from minVersion (Produce). */
  advertisedMinVersion?: number;
  handle(context: RequestContext, request: RequestBody<K>): Promise<HandlerResult<K>>;
  /**
   * The answer for a version the schema knows but the broker does not support (Produce v0-2):
   * every partition or topic with `errorCode`. Absent: such a request closes the connection.
   */
  errorResponse?(request: RequestBody<K>, errorCode: number): Encodable<ResponseBody<K>>;
}
