/**
 * One Kafka client connection: size-prefixed frames in, responses out in request order.
 *
 * Requests are handled in order, one at a time, as a Kafka broker does, with one exception: a
 * handler may release the connection early (Produce, once its appends are queued), and the
 * next request starts while the earlier one waits for the disk. A client's pipelined produces
 * then share group commits instead of paying one fsync each, and still reach the log in the
 * order sent. Responses always go out in request order. Requests read ahead wait in a bounded
 * queue; past it (or with too many answers outstanding, or too many of their bytes held) the
 * socket is paused. A response larger than the socket's buffer pauses writing until the socket
 * drains.
 *
 * Anything that makes the byte stream untrustworthy closes the connection with a log line: a
 * negative or oversized size prefix, a malformed header or body, an unknown API key or an
 * unsupported version (except where Kafka answers with UNSUPPORTED_VERSION).
 *
 * A connection on which no byte was read or written for connections_max_idle_ms, with no request
 * being handled (a fetch waiting for records included), is closed with a log line, as Kafka's
 * connections.max.idle.ms: a client that opened it and went silent, or sent part of a request,
 * would otherwise hold a max_connections slot, and its partial request's buffer, for good. Node's
 * socket timeout measures this: reads and completed writes restart it, and it does not fire while
 * a write is under way and the client takes its bytes, however slowly. A client that stops
 * reading an answer is idle too, as with Kafka.
 *
 * Where clients must authenticate, only ApiVersions, SaslHandshake and SaslAuthenticate are
 * served until they have; any other request, or no authentication within auth_timeout_ms,
 * closes the connection. After SaslHandshake v0 the frames of the exchange are raw SASL tokens,
 * not requests.
 */
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
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
import type { KafkaAcl, KafkaAclAction, KafkaGroupAction } from "../../security/acl/kafka-acl.ts";
import type { KafkaAclBindingStore } from "./acl-bindings-store.ts";
import { AnswerLeases, type FetchByteCounts } from "./answer-leases.ts";
import type { CoordinatorShell } from "./groups/coordinator-shell.ts";
import type { OffsetStore } from "./groups/offset-store.ts";
import type { KafkaSettings, RequestContext } from "./handler-context.ts";
import { unsupportedApiVersionsResponse } from "./handlers/api-versions.ts";
import type { BoundHandler, DispatchResult } from "./handlers/index.ts";
import { SliceReadAhead } from "./handlers/slice-read-ahead.ts";
import type { ProducerStates } from "./producers/producer-states.ts";
import type { ReadBufferPool } from "./read-buffers.ts";
import { type KafkaAuthenticator, SaslSession } from "./sasl/sasl-session.ts";
import { runSaslStep } from "./sasl/sasl-step.ts";
import type { TopicStore } from "./topic-store.ts";
import { type FileRange, SendFileError, socketIdle, type ZeroCopy } from "./zero-copy.ts";

/**
 * Largest request from a client that has yet to authenticate (Kafka's
 * sasl.server.max.receive.size): max_request_bytes would let it make the broker buffer 100 MiB.
 */
const UNAUTHENTICATED_REQUEST_BYTES_MAX = 524_288;
/** Requests read ahead of the one being handled before the socket is paused. */
const QUEUED_REQUESTS_MAX = 32;
/** Released requests still waiting for their answer, before handling waits for the oldest. */
const UNANSWERED_MAX = 16;
/**
 * Bytes of computed answers one connection may hold (not yet written, or written but not yet
 * taken by the kernel) before the next request waits. A client that pipelines fetches and stops
 * reading would otherwise make the broker compute UNANSWERED_MAX answers ahead, each holding its
 * copied records (16 of 20 MiB each: 320 MiB for one connection). One answer is always allowed
 * whatever its size, so a consumer asking for fetch.max.bytes (50 MiB by default) still
 * progresses, one answer at a time, as Kafka does (it reads nothing from a connection whose
 * answer is still being sent). 4 MiB keeps a few answers of Kafka's default
 * max.partition.fetch.bytes (1 MiB) ready behind the one being written, and is far above what
 * Produce and the other small answers ever hold. Records sent with sendfile hold no memory
 * (their placeholders are views of one shared buffer) and do not count.
 */
const ANSWER_BYTES_HELD_MAX = 4 * 1024 * 1024;
/**
 * What of a file range the socket did not take goes through the process this much at a time;
 * each such write completing means the socket has room again, and sendfile takes over.
 */
const RANGE_COPY_BYTES = 64 * 1024;
/** Bytes before a file range sent along with it by the addon, at most (copied into one). */
const HEAD_BYTES_MAX = 16 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);
/** sendfile errors that only mean the client went away: EBADF (socket closed), EPIPE, ECONNRESET. */
const PEER_GONE = new Set([9, 32, 104]);

function byteLength(chunks: readonly Buffer[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

export interface ConnectionDependencies {
  settings: KafkaSettings;
  store: TopicStore;
  groups: CoordinatorShell;
  offsets: OffsetStore;
  producers: ProducerStates;
  handlers: ReadonlyMap<number, BoundHandler>;
  logger: Logger;
  maxRequestBytes: number;
  /** Told each request's API key and how long it took to answer (seconds). */
  requestTiming: RequestTiming;
  /** Buffers for the records of Fetch answers, shared by all connections. */
  answerBuffers: ReadBufferPool;
  /** sendfile(2) for Fetch answers; null when unavailable or disabled (kafka.zero_copy). */
  zeroCopy: ZeroCopy | null;
  fetchBytes: FetchByteCounts;
  authenticator: KafkaAuthenticator;
  acl: KafkaAcl;
  aclBindings: KafkaAclBindingStore;
  /** How long a client that must authenticate has to do it. */
  authTimeoutMs: number;
  /** How long a connection may go without a byte read or written (connections_max_idle_ms). */
  idleMs: number;
}

/** What a client that has not authenticated yet may ask. */
const BEFORE_AUTHENTICATION = new Set<number>([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

/** A request being handled, and the buffers and file ranges its answer will carry. */
interface Answer {
  result: Promise<DispatchResult>;
  leases: AnswerLeases;
  /** Bytes of the computed answer held in memory (ANSWER_BYTES_HELD_MAX), 0 once released. */
  heldBytes: number;
}

export interface RequestTiming {
  observe(apiKey: number, seconds: number): void;
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
  /** Answers in request order, some still being computed. */
  readonly #answers: Answer[] = [];
  #writing = false;
  /** The socket is corked until the next tick (see #send). */
  #corked = false;
  /**
   * Resolves when the writer has taken an answer or the kernel an answer's bytes (handling waits
   * on it past UNANSWERED_MAX or ANSWER_BYTES_HELD_MAX).
   */
  #answered: PromiseWithResolvers<void> | null = null;
  /** Sum of the answers' heldBytes. */
  #heldBytes = 0;
  #closed = false;
  /** Requests whose answer is not computed yet: the connection is not idle meanwhile. */
  #handlingCount = 0;
  /** A file range is being sent by the addon, which Node's socket timeout does not see. */
  #sendingRange = false;
  /** Set by a request whose answer must be the last (a failed SASL step). */
  #closeAfterAnswer = false;
  readonly #sasl: SaslSession;
  #authTimer: NodeJS.Timeout | null = null;
  /** The client.id of the latest request, for bans by client id. */
  #clientId = "";
  /** The client.id last checked against the bans while serving, or null before any. */
  #admittedClientId: string | null = null;
  /** Null on TLS connections: their bytes must pass through the process to be encrypted. */
  readonly #zeroCopy: ZeroCopy | null;
  readonly #readAhead = new SliceReadAhead();

  /** `principal`: the user a verified client certificate names, if any. */
  constructor(socket: Socket, deps: ConnectionDependencies, principal: string | null = null) {
    this.#socket = socket;
    this.#deps = deps;
    this.#remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.#sasl = new SaslSession(deps.authenticator, principal);
    this.#zeroCopy = socket instanceof TLSSocket ? null : deps.zeroCopy;
    if (!this.#sasl.mayServe) {
      this.#authTimer = setTimeout(() => {
        if (this.#sasl.principal === null) {
          this.#closeFor("not authenticated in time", { authTimeoutMs: deps.authTimeoutMs });
        }
      }, deps.authTimeoutMs);
    }
    socket.setTimeout(deps.idleMs);
    socket.on("timeout", () => this.#onIdle());
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) =>
      deps.logger.debug({ remote: this.#remote, err: err.message }, "Kafka socket error"),
    );
    socket.on("close", () => this.#onClose());
  }

  /** Who this connection is, as [kafka_acl] sees it. */
  #principal(): { username: string | undefined; superuser: boolean } {
    return { username: this.#sasl.principal ?? undefined, superuser: this.#sasl.superuser };
  }

  /** Who this connection is, as bans see it. */
  get banSubject(): { clientId: string; username: string | undefined; ip: string } {
    const username = this.#sasl.principal ?? undefined;
    return { clientId: this.#clientId, username, ip: this.#socket.remoteAddress ?? "" };
  }

  /** Ends the connection at once (broker stopping); pending long polls return. */
  destroy(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#authTimer !== null) clearTimeout(this.#authTimer);
    this.#abort.abort();
    this.#queue.length = 0;
    this.#answered?.resolve();
  }

  #onIdle(): void {
    if (this.#closed) return;
    // Busy, not idle: the timeout starts again, from now.
    if (this.#handlingCount > 0 || this.#sendingRange) this.#socket.setTimeout(this.#deps.idleMs);
    else this.#closeFor("idle", { connectionsMaxIdleMs: this.#deps.idleMs });
  }

  #closeFor(reason: string, fields: Record<string, unknown> = {}): void {
    this.#deps.logger.warn(
      { remote: this.#remote, ...fields },
      `Kafka connection closed: ${reason}`,
    );
    this.destroy();
  }

  #onData(chunk: Buffer): void {
    // After a failed SASL step nothing more is read: the answer is the last thing served.
    if (this.#closed || this.#closeAfterAnswer) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#frameSize < 0) {
        if (this.#buffered < 4) break;
        const size = this.#take(4).readInt32BE(0);
        const max = this.#sasl.mayServe
          ? this.#deps.maxRequestBytes
          : Math.min(this.#deps.maxRequestBytes, UNAUTHENTICATED_REQUEST_BYTES_MAX);
        if (size < 0 || size > max) {
          this.#closeFor("request size out of range", { sizeBytes: size, maxRequestBytes: max });
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
        const released = Promise.withResolvers<void>();
        const leases = new AnswerLeases(
          this.#deps.answerBuffers,
          this.#zeroCopy,
          this.#deps.fetchBytes,
        );
        this.#handlingCount++;
        // #handle never rejects: one step counts the request done and its answer's bytes held.
        const answer: Answer = {
          result: this.#handle(frame, leases, () => released.resolve()).then((result) => {
            this.#handlingCount--;
            return this.#hold(answer, result);
          }),
          leases,
          heldBytes: 0,
        };
        void answer.result.finally(() => released.resolve());
        this.#answers.push(answer);
        void this.#writeAnswers();
        await released.promise;
        if (this.#authTimer !== null && this.#sasl.principal !== null) {
          clearTimeout(this.#authTimer);
          this.#authTimer = null;
        }
        if (this.#closeAfterAnswer) {
          this.#queue.length = 0;
          return;
        }
        while (
          !this.#closed &&
          (this.#answers.length >= UNANSWERED_MAX || this.#heldBytes > ANSWER_BYTES_HELD_MAX)
        ) {
          this.#answered = Promise.withResolvers<void>();
          await this.#answered.promise;
        }
        if (this.#closed) return;
        if (this.#queue.length <= QUEUED_REQUESTS_MAX / 2) this.#socket.resume();
      }
    } finally {
      this.#handling = false;
    }
  }

  /** Counts a computed answer's bytes as held, until #release. */
  #hold(answer: Answer, result: DispatchResult): DispatchResult {
    if (!Array.isArray(result)) return result;
    let bytes = 0;
    for (const chunk of result) {
      if (answer.leases.rangeOf(chunk) === undefined) bytes += chunk.length;
    }
    answer.heldBytes = bytes;
    this.#heldBytes += bytes;
    return result;
  }

  /** Gives back what an answer holds, once the kernel has its bytes or it is dropped. */
  #release(answer: Answer): void {
    answer.leases.release();
    this.#heldBytes -= answer.heldBytes;
    answer.heldBytes = 0;
    if (this.#heldBytes < 0) throw new Error("answer bytes released twice");
    this.#answered?.resolve();
  }

  /** Sends the answers in request order, each once it is ready. */
  async #writeAnswers(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#answers.length > 0 && !this.#closed) {
        const answer = this.#answers[0];
        const result = await answer.result;
        this.#answers.shift();
        this.#answered?.resolve();
        if (this.#closed || result === null || result === "close") {
          this.#release(answer);
          if (result === "close") this.destroy();
          if (result === "close" || this.#closed) return;
          continue;
        }
        await this.#send(result, answer);
        if (this.#closeAfterAnswer && this.#answers.length === 0) {
          this.#endAfterWrite();
          return;
        }
      }
    } finally {
      this.#writing = false;
      // Answers never to be written (the connection closed) give their buffers back once
      // settled: a handler still running may be reading into one.
      if (this.#closed) {
        for (const answer of this.#answers) {
          const giveBack = () => this.#release(answer);
          void answer.result.then(giveBack, giveBack);
        }
      }
    }
  }

  /** Flushes what was written, then closes; a peer that does not read is cut off after 1 s. */
  #endAfterWrite(): void {
    this.#uncork();
    this.#socket.end();
    setTimeout(() => this.destroy(), 1000).unref();
  }

  /**
   * Writes an answer into the corked socket; the cork is lifted once the current run of promise
   * steps is over (process.nextTick runs after the microtask queue drains). The answers that one
   * group commit releases then leave in one writev per connection, not one each: on a loaded
   * machine every socket write also wakes the client, and these syscalls were a fifth of the
   * broker's busy time when producing.
   */
  async #send(chunks: Buffer[], answer: Answer): Promise<void> {
    if (answer.leases.hasRanges) return this.#sendWithRanges(chunks, answer);
    const socket = this.#socket;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(this.#uncork);
    }
    let flowing = true;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) flowing = socket.write(chunks[i]);
    // Called once the last chunk (so every chunk) was written, or dropped with the socket.
    flowing = socket.write(chunks[last], () => this.#release(answer));
    if (flowing || this.#closed) return;
    // A full buffer only drains once written out: lift the cork now, then wait.
    this.#uncork();
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  readonly #uncork = (): void => {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  };

  /**
   * An answer carrying file ranges (zero-copy.ts). What comes before a range goes with it to the
   * addon when the socket has nothing queued (one trip to the thread pool, no wait for a write
   * callback), else is written and handed to the kernel first. What the socket's buffer cannot
   * take (a consumer reading slowly) goes through the process RANGE_COPY_BYTES at a time; each
   * such write completing means there is room again, and sendfile resumes. A failure part-way
   * leaves the stream unusable, so it closes the connection.
   */
  async #sendWithRanges(chunks: Buffer[], answer: Answer): Promise<void> {
    const leases = answer.leases;
    try {
      let from = 0;
      for (let i = 0; i < chunks.length && !this.#closed; i++) {
        const range = leases.rangeOf(chunks[i]);
        if (range === undefined) continue;
        const before = chunks.slice(from, i);
        from = i + 1;
        let head: Buffer = EMPTY;
        if (socketIdle(this.#socket) && byteLength(before) <= HEAD_BYTES_MAX) {
          head = before.length === 1 ? before[0] : Buffer.concat(before);
        } else {
          await this.#flush(before);
        }
        if (!this.#closed) await this.#sendRange(range, head);
      }
      if (!this.#closed && from < chunks.length) await this.#flush(chunks.slice(from));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof SendFileError && PEER_GONE.has(err.errno)) {
        this.#deps.logger.debug({ remote: this.#remote, err: message }, "Kafka peer gone");
        this.destroy();
      } else if (!this.#closed) {
        this.#closeFor("fetch answer not sent", { err: message });
      }
    } finally {
      this.#release(answer);
    }
  }

  async #sendRange(range: FileRange, head: Buffer): Promise<void> {
    const zeroCopy = this.#zeroCopy;
    if (zeroCopy === null) throw new Error("a file range without sendfile");
    const counts = this.#deps.fetchBytes;
    let done = 0;
    while (done < range.length && !this.#closed) {
      this.#sendingRange = true;
      const { headSent, fileSent } = await zeroCopy
        .send(this.#socket, range, done, head)
        .finally(() => {
          this.#sendingRange = false;
        });
      if (headSent < head.length) {
        // The socket was full before the range began: the rest of the head goes the usual way.
        await this.#flush([head.subarray(headSent)]);
        head = EMPTY;
        continue;
      }
      head = EMPTY;
      counts.sendfile += fileSent;
      done += fileSent;
      if (done === range.length || this.#closed) return;
      const partBytes = Math.min(RANGE_COPY_BYTES, range.length - done);
      const part = this.#deps.answerBuffers.acquire(partBytes);
      try {
        const bytes = part.subarray(0, partBytes);
        const read = await zeroCopy.read(range, done, bytes);
        if (read < bytes.length) {
          throw new Error(`segment file ends ${range.length - done - read} bytes early`);
        }
        await this.#flush([bytes]);
        counts.copied += bytes.length;
        done += bytes.length;
      } finally {
        this.#deps.answerBuffers.release(part);
      }
    }
  }

  /** Writes `chunks` (at least one) and resolves once the kernel has them, or the socket closed. */
  #flush(chunks: Buffer[]): Promise<void> {
    if (chunks.length === 0) throw new Error("nothing to flush before a file range");
    const { promise, resolve } = Promise.withResolvers<void>();
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.#socket.write(chunks[i]);
    this.#socket.write(chunks[last], () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    this.#uncork();
    return promise;
  }

  async #handle(frame: Buffer, leases: AnswerLeases, release: () => void): Promise<DispatchResult> {
    const reader = new ByteReader(frame);
    let header: RequestHeader | null = null;
    // Never rejects: #drainQueue and #writeAnswers await this with nobody to catch.
    try {
      if (this.#sasl.expectsRawToken) return await this.#rawSaslStep(frame);
      header = decodeRequestHeader(reader);
      const started = performance.now();
      const result = await this.#dispatch(header, reader, leases, release);
      const seconds = (performance.now() - started) / 1000;
      this.#deps.requestTiming.observe(header.requestApiKey, seconds);
      return result;
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

  /**
   * A token of an exchange begun by SaslHandshake v0: the frame is the token itself, and the
   * answer the server's token with its size. A refusal closes without an answer: this framing
   * has no way to carry one (Kafka closes too).
   */
  async #rawSaslStep(token: Buffer): Promise<DispatchResult> {
    const step = await runSaslStep(this.#sasl, token, {
      logger: this.#deps.logger,
      remote: this.#remote,
      clientId: this.#clientId,
      ip: this.#socket.remoteAddress ?? "",
      signal: this.#abort.signal,
      closeAfterAnswer: () => {
        this.#closeAfterAnswer = true;
      },
    });
    if (step.close || step.busy === true) return "close";
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(step.authBytes.length);
    return step.authBytes.length === 0 ? [size] : [size, step.authBytes];
  }

  async #dispatch(
    header: RequestHeader,
    reader: ByteReader,
    leases: AnswerLeases,
    release: () => void,
  ): Promise<DispatchResult> {
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId } = header;
    if (header.clientId !== null) this.#clientId = header.clientId;
    const handler = this.#deps.handlers.get(apiKey);
    if (handler === undefined) {
      this.#closeFor("unknown or unsupported API key", {
        apiKey,
        version,
        clientId: header.clientId,
      });
      return "close";
    }
    if (!this.#sasl.mayServe && !BEFORE_AUTHENTICATION.has(apiKey)) {
      this.#closeFor("request before authentication", {
        api: apiName(apiKey),
        clientId: header.clientId,
      });
      return "close";
    }
    // Kafka's client.id travels with every request: a client serving under one the bans name
    // (anonymously, or after authenticating under another) is closed as a new ban would.
    if (this.#sasl.mayServe && this.#clientId !== this.#admittedClientId) {
      const admitted = this.#deps.authenticator.admit(this.#sasl.principal ?? undefined, {
        clientId: this.#clientId,
        ip: this.#socket.remoteAddress ?? "",
      });
      if (!admitted.ok) {
        this.#closeFor("banned", { clientId: this.#clientId, reason: admitted.reason });
        return "close";
      }
      this.#admittedClientId = this.#clientId;
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
      groups: this.#deps.groups,
      offsets: this.#deps.offsets,
      producers: this.#deps.producers,
      logger: this.#deps.logger,
      version,
      clientId: header.clientId,
      remoteHost: this.#socket.remoteAddress ?? "",
      localAddress: {
        host: this.#socket.localAddress ?? "127.0.0.1",
        port: this.#socket.localPort ?? 0,
      },
      signal: this.#abort.signal,
      release,
      readRecords: (log, slice) => leases.records(log, slice),
      discardAnswerRecords: () => leases.release(),
      readAhead: this.#readAhead,
      sasl: this.#sasl,
      remote: this.#remote,
      closeAfterAnswer: () => {
        this.#closeAfterAnswer = true;
      },
      closeConnection: (reason: string, fields: Record<string, unknown>) => {
        if (!this.#closed) this.#closeFor(reason, fields);
      },
      may: (action: KafkaAclAction, topic: string) =>
        this.#deps.acl.open || this.#deps.acl.authorize(this.#principal(), action, topic),
      mayDescribe: (topic: string) =>
        this.#deps.acl.open || this.#deps.acl.mayDescribe(this.#principal(), topic),
      mayGroup: (action: KafkaGroupAction, group: string) =>
        this.#deps.acl.open || this.#deps.acl.authorize(this.#principal(), action, group, "group"),
      mayDescribeGroup: (group: string) =>
        this.#deps.acl.open || this.#deps.acl.mayDescribe(this.#principal(), group, "group"),
      aclBindings: this.#deps.aclBindings,
    };
    return handler.run(context, reader, correlationId);
  }
}
