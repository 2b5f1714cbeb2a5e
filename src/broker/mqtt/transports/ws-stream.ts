import { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";

/** RFC 6455 close code 1003: the endpoint cannot accept this data type. */
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_NORMAL = 1000;

/**
 * A WebSocket as the byte stream MqttBroker.accept() takes. Binary messages are the MQTT byte
 * stream: a packet may span messages and a message may hold several packets, so boundaries are
 * ignored. A text message breaks the MQTT over WebSocket rules and closes the connection.
 *
 * Backpressure works both ways: when the connection stops reading (flow control) the readable
 * side fills and the WebSocket's socket is paused, so the client is slowed down by TCP; each
 * write completes only once the socket took it, so writableLength counts what waits.
 */
export class WebSocketStream extends Duplex {
  private readonly ws: WebSocket;
  private readonly onProblem: (reason: string) => void;
  private textSeen = false;

  /** `onProblem` is told why the stream closes when the client broke a rule. */
  constructor(ws: WebSocket, onProblem: (reason: string) => void) {
    super();
    this.ws = ws;
    this.onProblem = onProblem;
    ws.on("message", (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on("error", (err: Error) => this.onProblem(err.message));
    ws.once("close", () => {
      if (this.destroyed) return;
      this.push(null);
      this.destroy();
    });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    // After a text message nothing more reaches the broker; the close handshake is under way.
    if (this.destroyed || this.textSeen) return;
    if (!isBinary) {
      this.onProblem("text WebSocket message (MQTT needs binary messages)");
      this.ws.close(CLOSE_UNSUPPORTED_DATA, "binary messages only");
      this.textSeen = true;
      return;
    }
    // binaryType "nodebuffer" (the default): always one Buffer.
    if (!this.push(data as Buffer)) this.ws.pause();
  }

  override _read(): void {
    if (this.ws.isPaused && this.ws.readyState === this.ws.OPEN) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void) {
    this.ws.send(chunk, { binary: true }, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (e?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.ws.send(data, { binary: true }, callback);
  }

  /** end(): a WebSocket close handshake; 'close' follows when the client answers. */
  override _final(callback: (e?: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(CLOSE_NORMAL);
    callback();
  }

  override _destroy(err: Error | null, callback: (e?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate();
    callback(err);
  }
}
