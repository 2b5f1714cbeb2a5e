import type { Socket } from "node:net";
import type { Logger } from "../../../log/logger.ts";
import { parseProxyHeader } from "./proxy-protocol.ts";

/** "address:port" of the socket's peer, the form the broker logs. */
export function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
}

/**
 * Reads the PROXY header that must open `socket`, then calls `onReady` with the client's
 * address ("address:port") and the socket paused, the bytes after the header put back in it:
 * the caller resumes it once its reader is attached (a TLS socket wrapping it reads them).
 * A bad or missing header, or none within `timeoutMs`, closes the socket with a log line.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  logger: Logger,
  onReady: (remoteAddress: string) => void,
): void {
  const peer = peerOf(socket);
  let pending: Buffer = Buffer.alloc(0);
  const refuse = (reason: string): void => {
    cleanup();
    logger.info({ remote: peer, reason }, "closing connection: bad PROXY protocol header");
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const result = parseProxyHeader(pending);
    if (result.kind === "incomplete") return;
    if (result.kind === "invalid") {
      refuse(result.reason);
      return;
    }
    cleanup();
    socket.pause();
    const rest = pending.subarray(result.headerBytes);
    if (rest.length > 0) socket.unshift(rest);
    const source = result.source;
    onReady(source === null ? peer : `${source.address}:${source.port}`);
  };
  const onEnd = (): void => refuse("connection closed before the PROXY header");
  const onError = (err: Error): void => refuse(`socket error: ${err.message}`);
  const timer = setTimeout(() => refuse(`no PROXY header within ${timeoutMs} ms`), timeoutMs);
  timer.unref();
  function cleanup(): void {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("error", onError);
  }
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", onError);
}
