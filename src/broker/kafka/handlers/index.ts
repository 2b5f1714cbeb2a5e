/**
 * The APIs the broker serves, each bound to the codec so the connection can dispatch by API key
 * without knowing message types. The transaction APIs are not advertised (docs/kafka.md).
 */
import type { ApiKeyValue } from "../../../protocol/kafka/api-keys.ts";
import type { ByteReader } from "../../../protocol/kafka/byte-reader.ts";
import { KafkaCodecError } from "../../../protocol/kafka/codec-error.ts";
import {
  decodeRequestBody,
  encodeResponseFrame,
  schemaVersions,
} from "../../../protocol/kafka/kafka-codec.ts";
import { inRange } from "../../../protocol/kafka/schema-spec.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { alterConfigsHandler } from "./alter-configs.ts";
import { apiVersionsHandler } from "./api-versions.ts";
import { createAclsHandler } from "./create-acls.ts";
import { createPartitionsHandler } from "./create-partitions.ts";
import { createTopicsHandler } from "./create-topics.ts";
import { deleteAclsHandler } from "./delete-acls.ts";
import { deleteGroupsHandler } from "./delete-groups.ts";
import { deleteRecordsHandler } from "./delete-records.ts";
import { deleteTopicsHandler } from "./delete-topics.ts";
import { describeAclsHandler } from "./describe-acls.ts";
import { describeClusterHandler } from "./describe-cluster.ts";
import { describeConfigsHandler } from "./describe-configs.ts";
import { describeGroupsHandler } from "./describe-groups.ts";
import { describeLogDirsHandler } from "./describe-log-dirs.ts";
import { fetchHandler } from "./fetch.ts";
import { findCoordinatorHandler } from "./find-coordinator.ts";
import { heartbeatHandler } from "./heartbeat.ts";
import { incrementalAlterConfigsHandler } from "./incremental-alter-configs.ts";
import { initProducerIdHandler } from "./init-producer-id.ts";
import { joinGroupHandler } from "./join-group.ts";
import { leaveGroupHandler } from "./leave-group.ts";
import { listGroupsHandler } from "./list-groups.ts";
import { listOffsetsHandler } from "./list-offsets.ts";
import { metadataHandler } from "./metadata.ts";
import { offsetCommitHandler } from "./offset-commit.ts";
import { offsetDeleteHandler } from "./offset-delete.ts";
import { offsetFetchHandler } from "./offset-fetch.ts";
import { produceHandler } from "./produce.ts";
import { saslAuthenticateHandler } from "./sasl-authenticate.ts";
import { saslHandshakeHandler } from "./sasl-handshake.ts";
import { syncGroupHandler } from "./sync-group.ts";

/** A frame to send, nothing (acks = 0), or "close" the connection. */
export type DispatchResult = Buffer[] | null | "close";

export interface BoundHandler {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  advertisedMinVersion: number;
  run(context: RequestContext, reader: ByteReader, correlationId: number): Promise<DispatchResult>;
  /** For a version the schema has but the broker does not support; null: close instead. */
  refuse(
    version: number,
    reader: ByteReader,
    correlationId: number,
    errorCode: number,
  ): Buffer[] | null;
}

function decodeWhole<K extends ApiKeyValue>(apiKey: K, version: number, reader: ByteReader) {
  const request = decodeRequestBody(apiKey, version, reader);
  if (reader.remaining !== 0) {
    throw new KafkaCodecError("invalid", `${reader.remaining} bytes after the request body`);
  }
  return request;
}

function bind<K extends ApiKeyValue>(handler: ApiHandler<K>): BoundHandler {
  return {
    apiKey: handler.apiKey,
    minVersion: handler.minVersion,
    maxVersion: handler.maxVersion,
    advertisedMinVersion: handler.advertisedMinVersion ?? handler.minVersion,
    async run(context, reader, correlationId) {
      const request = decodeWhole(handler.apiKey, context.version, reader);
      const result = await handler.handle(context, request);
      if (result === null || result === "close") return result;
      return encodeResponseFrame(handler.apiKey, context.version, correlationId, result);
    },
    refuse(version, reader, correlationId, errorCode) {
      if (handler.errorResponse === undefined) return null;
      if (!inRange(schemaVersions(handler.apiKey), version)) return null;
      const request = decodeWhole(handler.apiKey, version, reader);
      const body = handler.errorResponse(request, errorCode);
      return encodeResponseFrame(handler.apiKey, version, correlationId, body);
    },
  };
}

/** `sasl`: whether the listener offers any SASL mechanism (else those APIs are not served). */
export function buildHandlers(options: { sasl: boolean }): Map<number, BoundHandler> {
  const handlers = new Map<number, BoundHandler>();
  const supported = () =>
    [...handlers.values()].map(({ apiKey, advertisedMinVersion, maxVersion }) => ({
      apiKey,
      minVersion: advertisedMinVersion,
      maxVersion,
    }));
  for (const handler of [
    bind(produceHandler),
    bind(fetchHandler),
    bind(listOffsetsHandler),
    bind(metadataHandler),
    bind(apiVersionsHandler(supported)),
    bind(createTopicsHandler),
    bind(createPartitionsHandler),
    bind(deleteTopicsHandler),
    bind(deleteRecordsHandler),
    bind(findCoordinatorHandler),
    bind(joinGroupHandler),
    bind(syncGroupHandler),
    bind(heartbeatHandler),
    bind(leaveGroupHandler),
    bind(describeGroupsHandler),
    bind(describeConfigsHandler),
    bind(alterConfigsHandler),
    bind(incrementalAlterConfigsHandler),
    bind(describeLogDirsHandler),
    bind(describeClusterHandler),
    bind(listGroupsHandler),
    bind(deleteGroupsHandler),
    bind(offsetDeleteHandler),
    bind(offsetCommitHandler),
    bind(offsetFetchHandler),
    bind(initProducerIdHandler),
    bind(describeAclsHandler),
    bind(createAclsHandler),
    bind(deleteAclsHandler),
    ...(options.sasl ? [bind(saslHandshakeHandler), bind(saslAuthenticateHandler)] : []),
  ]) {
    handlers.set(handler.apiKey, handler);
  }
  return handlers;
}
