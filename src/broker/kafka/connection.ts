/**
 * One Kafka client connection: size-prefixed frames in, responses out in request order.
 *
 * Requests are handled one at a time, as a Kafka broker does (it mutes a channel until the
 * response is sent): responses then need no reordering, and one client's produces reach the log
 * in the order sent. Pipelined requests wait in a bounded queue; past it the socket is paused.
 * A response larger than the socket's buffer also pauses handling until the socket drains.
 *
 * Anything that makes the byte stream untrustworthy closes the connection with a log line: a
 * negative or oversized size prefix, a malformed header or body, an unknown API key or an
 * unsupported version (except where Kafka answers with UNSUPPORTED_VERSION).
 */
import type { Socket } from "node:net";
import type { Logger } from "../../log/logger.ts";
import { ApiKey, apiName } from "../../protocol/kafka/api-keys.ts";
import { ByteReader } from "../../protocol/kafka/byte-reader.ts";
import { KafkaCodecError } from "../../protocol/kafka/codec-error.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import {
  decodeRequestHeader,
  encodeResponseFrame,
  type RequestHeader,
} from "../../protocol/kafka/kafka-codec.ts";
import type { KafkaSettings, RequestContext } from "./handler-context.ts";
import { unsupportedApiVersionsResponse } from "./handlers/api-versions.ts";
import type { BoundHandler, DispatchResult } from "./handlers/index.ts";
import type { TopicStore } from "./topic-store.ts";

/** Requests read ahead of the one being handled before the socket is paused. */
const QUEUED_REQUESTS_MAX = 32;

export interface ConnectionDependencies {
  settings: KafkaSettings;
  store: TopicStore;
  handlers: ReadonlyMap<number, BoundHandler>;
  logger: Logger;
  maxRequestBytes: number;
}

export class KafkaConnection {
  readonly #socket: Socket;
  readonly #deps: ConnectionDependencies;
  readonly #remote: string;
  readonly #abort = new AbortController();
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Size of the frame being read, or -1 while its size prefix is awaited. */
  #frameSize = -1;
  readonly #queue: Buffer[] = [];
  #handling = false;
  #closed = false;

  constructor(socket: Socket, deps: ConnectionDependencies) {
    this.#socket = socket;
    this.#deps = deps;
    this.#remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) =>
      deps.logger.debug({ remote: this.#remote, err: err.message }, "Kafka socket error"),
    );
    socket.on("close", () => this.#onClose());
  }

  /** Ends the connection at once (broker stopping); pending long polls return. */
  destroy(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#queue.length = 0;
  }

  #closeFor(reason: string, fields: Record<string, unknown> = {}): void {
    this.#deps.logger.warn(
      { remote: this.#remote, ...fields },
      `Kafka connection closed: ${reason}`,
    );
    this.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#frameSize < 0) {
        if (this.#buffered < 4) break;
        const size = this.#take(4).readInt32BE(0);
        if (size < 0 || size > this.#deps.maxRequestBytes) {
          this.#closeFor("request size out of range", {
            sizeBytes: size,
            maxRequestBytes: this.#deps.maxRequestBytes,
          });
          return;
        }
        this.#frameSize = size;
      }
      if (this.#buffered < this.#frameSize) break;
      this.#queue.push(this.#take(this.#frameSize));
      this.#frameSize = -1;
    }
    if (this.#queue.length > QUEUED_REQUESTS_MAX) this.#socket.pause();
    void this.#drainQueue();
  }

  /** Removes the first `bytes` buffered bytes; one copy only when they span chunks. */
  #take(bytes: number): Buffer {
    this.#buffered -= bytes;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= bytes) {
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.#chunks[0];
      const used = Math.min(chunk.length, bytes - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }

  async #drainQueue(): Promise<void> {
    if (this.#handling) return;
    this.#handling = true;
    try {
      for (let frame = this.#queue.shift(); frame !== undefined; frame = this.#queue.shift()) {
        const result = await this.#handle(frame);
        if (this.#closed) return;
        if (result === "close") {
          this.destroy();
          return;
        }
        if (result !== null) await this.#send(result);
        if (this.#queue.length <= QUEUED_REQUESTS_MAX / 2) this.#socket.resume();
      }
    } finally {
      this.#handling = false;
    }
  }

  async #send(chunks: Buffer[]): Promise<void> {
    this.#socket.cork();
    let flowing = true;
    for (const chunk of chunks) flowing = this.#socket.write(chunk);
    this.#socket.uncork();
    if (flowing || this.#closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#socket.off("drain", done);
        this.#socket.off("close", done);
        resolve();
      };
      this.#socket.on("drain", done);
      this.#socket.on("close", done);
    });
  }

  async #handle(frame: Buffer): Promise<DispatchResult> {
    const reader = new ByteReader(frame);
    let header: RequestHeader | null = null;
    try {
      header = decodeRequestHeader(reader);
      return await this.#dispatch(header, reader);
    } catch (err) {
      const fields = {
        api: header === null ? undefined : apiName(header.requestApiKey),
        version: header?.requestApiVersion,
        clientId: header?.clientId,
        err: err instanceof Error ? err.message : String(err),
      };
      if (err instanceof KafkaCodecError) {
        this.#closeFor("malformed request", { ...fields, problem: err.problem });
      } else {
        this.#deps.logger.error({ remote: this.#remote, ...fields }, "Kafka request failed");
        this.destroy();
      }
      return "close";
    }
  }

  async #dispatch(header: RequestHeader, reader: ByteReader): Promise<DispatchResult> {
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId } = header;
    const handler = this.#deps.handlers.get(apiKey);
    if (handler === undefined) {
      this.#closeFor("unknown or unsupported API key", {
        apiKey,
        version,
        clientId: header.clientId,
      });
      return "close";
    }
    if (version < handler.minVersion || version > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions) {
        return encodeResponseFrame(
          ApiKey.ApiVersions,
          0,
          correlationId,
          unsupportedApiVersionsResponse(),
        );
      }
      const refusal = handler.refuse(
        version,
        reader,
        correlationId,
        KafkaError.UNSUPPORTED_VERSION,
      );
      if (refusal !== null) return refusal;
      this.#closeFor("unsupported API version", {
        api: apiName(apiKey),
        version,
        supported: `${handler.minVersion}-${handler.maxVersion}`,
        clientId: header.clientId,
      });
      return "close";
    }
    const context: RequestContext = {
      settings: this.#deps.settings,
      store: this.#deps.store,
      logger: this.#deps.logger,
      version,
      clientId: header.clientId,
      localAddress: {
        host: this.#socket.localAddress ?? "127.0.0.1",
        port: this.#socket.localPort ?? 0,
      },
      signal: this.#abort.signal,
    };
    return handler.run(context, reader, correlationId);
  }
}
