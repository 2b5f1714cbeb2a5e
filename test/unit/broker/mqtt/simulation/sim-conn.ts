/**
 * One network connection of a simulated client, as the client sees it: its socket and parser,
 * the bytes the broker wrote and not yet read, and what is unacknowledged on it.
 */
import { MqttParser, type Packet } from "../../../../../src/protocol/mqtt/index.ts";
import { FrameMeter } from "./sim-frames.ts";
import { SimSocket, type SocketLimits, type SocketPeer } from "./sim-socket.ts";

/** Bytes from the broker, with when they came and when the client had last sent anything. */
export interface Arrival {
  readonly bytes: Buffer;
  readonly atMs: number;
  readonly lastSentMs: number;
  /** The broker held the client back (for others) when it wrote these bytes. */
  readonly held: boolean;
}

export interface Conn {
  /** Connection number of its client (1, 2, ...): names it in traces. */
  readonly number: number;
  readonly socket: SimSocket;
  readonly parser: MqttParser;
  /** Bytes and the end (null) as the broker wrote them, read when the simulation says. */
  readonly inbox: Array<Arrival | null>;
  readonly cleanStart: boolean;
  connacked: boolean;
  /** Given up by the client (takeover from elsewhere, reset): read only to see it end. */
  abandoned: boolean;
  /** The client saw the end or closed it itself. */
  closed: boolean;
  /** The broker ended or destroyed its side (the client may not have read that far). */
  serverClosing: boolean;
  lastSentMs: number;
  /** The earliest the broker may have cut it for a silence past keep alive; Infinity if none. */
  keepAliveCutAtMs: number;
  /** Ids of PUBLISH/PUBREL read here and not finally acknowledged: the broker's window holds them. */
  readonly unacked: Set<number>;
  /** Acknowledgements the client decided never to send on this connection. */
  readonly withheld: Packet[];
  /** Measures each packet the broker sends, for the client's Maximum Packet Size. */
  readonly meter: FrameMeter;
  /** Topic aliases: ours to the broker (topic -> alias) and the broker's to us. */
  readonly outAliases: Map<string, number>;
  readonly inAliases: Map<number, string>;
  /** The broker's Topic Alias Maximum from its CONNACK. */
  serverAliasMax: number;
  /** The client sent something invalid: the broker must close with one of these codes. */
  expectedDisconnect: readonly number[] | null;
  /** Payload of the will it carries; "" = none. */
  readonly willPayload: string;
}

export function newConn(
  peer: SocketPeer,
  limits: SocketLimits,
  label: string,
  number: number,
  cleanStart: boolean,
  version: 4 | 5,
  nowMs: number,
  willPayload: string,
  onPacket: (conn: Conn, packet: Packet) => void,
): Conn {
  const socket = new SimSocket(peer, label, limits);
  const parser = new MqttParser((packet) => onPacket(conn, packet), 1 << 20);
  parser.protocolVersion = version;
  const conn: Conn = {
    number,
    socket,
    parser,
    inbox: [],
    cleanStart,
    connacked: false,
    abandoned: false,
    closed: false,
    serverClosing: false,
    lastSentMs: nowMs,
    keepAliveCutAtMs: Number.POSITIVE_INFINITY,
    unacked: new Set(),
    withheld: [],
    meter: new FrameMeter(),
    outAliases: new Map(),
    inAliases: new Map(),
    serverAliasMax: 0,
    expectedDisconnect: null,
    willPayload,
  };
  return conn;
}
