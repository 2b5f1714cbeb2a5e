import mqtt, { type IClientOptions } from "mqtt";
import { uniqueName, WAIT_TIMEOUT_MS, withTimeout } from "./mqtt-clients.ts";

/**
 * Resolves once an mqtt.js client's connection ends without CONNACK; rejects if it connects.
 * connectAsync() is not enough: a TLS 1.3 client whose certificate the server refuses after
 * the handshake sees only a close, and connectAsync waits on.
 */
export function expectRefused(url: string, options: IClientOptions = {}): Promise<void> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: WAIT_TIMEOUT_MS,
    clientId: uniqueName("refused"),
    ...options,
  });
  const ended = new Promise<void>((resolve, reject) => {
    client.once("connect", () => reject(new Error(`connected to ${url}, expected a refusal`)));
    client.once("close", () => resolve());
    client.once("error", () => resolve());
  });
  return withTimeout(ended, WAIT_TIMEOUT_MS, `refusal at ${url}`).finally(() => client.end(true));
}
