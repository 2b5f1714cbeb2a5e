import type { Duplex } from "node:stream";

/**
 * The user name a transport vouches for: the CN or SAN of a verified TLS client certificate
 * ([tls] verify_client, peer_cert_as_username). It is keyed by the stream handed to
 * MqttBroker.accept() (MqttConnection.stream), so transports need no field on the connection;
 * the CONNECT handler reads it with transportUsername(conn.stream).
 */
const usernames = new WeakMap<Duplex, string>();

export function setTransportUsername(stream: Duplex, username: string): void {
  usernames.set(stream, username);
}

/**
 * The user name proven by the transport, or undefined when it proves none (plain TCP, TLS
 * without client certificates, peer_cert_as_username = "none"). When defined it should win
 * over the CONNECT packet's User Name: the certificate is what was verified.
 */
export function transportUsername(stream: Duplex): string | undefined {
  return usernames.get(stream);
}
