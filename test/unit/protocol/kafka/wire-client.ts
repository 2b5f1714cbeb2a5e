/**
 * A minimal Kafka client over a raw socket, for tests that need what real clients never send
 * (bad frames, old versions) or that read Fetch responses byte for byte. Requests and responses
 * go through our codec; the bytes under test (record batches) come from kafkajs or kcat.
 */
import { connect, type Socket } from "node:net";
import type { ApiKeyValue } from "../../../../src/protocol/kafka/api-keys.ts";
import {
  decodeResponseFrame,
  type Encodable,
  encodeRequestFrame,
  type RequestBody,
  type ResponseBody,
} from "../../../../src/protocol/kafka/kafka-codec.ts";

export class WireClient {
  readonly socket: Socket;
  #pending = Buffer.alloc(0);
  readonly #frames: Buffer[] = [];
  #wake: (() => void) | null = null;
  #correlationId = 1;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 4) {
        const size = this.#pending.readInt32BE(0);
        if (this.#pending.length < 4 + size) break;
        this.#frames.push(this.#pending.subarray(4, 4 + size));
        this.#pending = this.#pending.subarray(4 + size);
      }
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    void this.closed.then(() => this.#wake?.());
  }

  static async connect(port: number): Promise<WireClient> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.on("error", () => {});
    return new WireClient(socket);
  }

  /** The next response frame (without its size prefix), or null if the connection closes. */
  async nextFrame(timeoutMs = 5000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.socket.destroyed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#frames.shift() ?? null;
  }

  send(chunks: readonly Buffer[]): void {
    this.socket.write(Buffer.concat(chunks));
  }

  async request<K extends ApiKeyValue>(
    apiKey: K,
    version: number,
    body: Encodable<RequestBody<K>>,
    timeoutMs = 5000,
  ): Promise<ResponseBody<K>> {
    const correlationId = this.#correlationId++;
    this.send(encodeRequestFrame(apiKey, version, correlationId, "wire-test", body));
    const frame = await this.nextFrame(timeoutMs);
    if (frame === null) throw new Error("connection closed instead of a response");
    const response = decodeResponseFrame(apiKey, version, frame);
    if (response.correlationId !== correlationId) {
      throw new Error(`correlation id ${response.correlationId}, expected ${correlationId}`);
    }
    return response.body;
  }

  /** Resolves true when the broker closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timedOut]);
    clearTimeout(timer);
    return result;
  }

  close(): void {
    this.socket.destroy();
  }
}
