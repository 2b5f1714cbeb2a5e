import { assert } from "../errors.ts";

/**
 * Static limits of one process, in one place. Limits an operator may change are config keys
 * (src/config/schema.ts); these are the ones that shape the code itself.
 */

/** Sockets accepted beyond max_connections so that a refusal can carry a CONNACK reason code. */
export const CONNECTION_HEADROOM_COUNT = 64;
/** One turn's output up to this size is copied into one buffer and written once. */
export const FLUSH_CONCAT_BYTES_MAX = 256 * 1024;
/** A payload view wasting at least this much of its backing buffer is copied before it is kept. */
export const COMPACT_WASTE_BYTES_MIN = 1024;
/**
 * Keep alive is kept by complete packets [MQTT-3.1.2-24]. A packet too large to arrive within
 * 1.5x the keep alive (the client cannot send PINGREQ in the middle of it) keeps it too, as
 * long as this many of its bytes arrive per 1.5x keep alive: one full socket read of Node
 * (64 KiB). A client trickling a packet that never ends (slow loris) is cut off.
 */
export const KEEP_ALIVE_PROGRESS_BYTES = 64 * 1024;
/** How long a closed connection may take to flush before its socket is destroyed. */
export const CLOSE_LINGER_MS = 2000;
/** How long a graceful shutdown waits for clients to be flushed and closed. */
export const SHUTDOWN_TIMEOUT_MS = 5000;
/** Longest a publisher is paused for one slow subscriber before that subscriber is "stuck". */
export const THROTTLE_WAIT_MS_MAX = 2000;
/** Largest MQTT packet identifier; outbound windows can never exceed it. */
export const PACKET_ID_MAX = 65_535;
/** Longest delay setTimeout honours (a longer one fires after 1 ms): longer waits re-arm. */
export const TIMER_DELAY_MS_MAX = 2 ** 31 - 1;
/** Delayed publish (`$delayed/`): longest delay, in seconds (as EMQX: 2^32-1 ms, ~49.7 days). */
export const DELAYED_DELAY_S_MAX = 4_294_967;
/** Due delayed messages published in one turn; more wait for the next turn (I/O between). */
export const DELAYED_PUBLISHES_PER_TURN_MAX = 1000;
/**
 * Kafka ACL bindings one CreateAcls may create, and rules one DeleteAcls may remove: each is its
 * own LMDB commit, so this bounds how long one request holds the ACL writes.
 */
export const KAFKA_ACL_CHANGES_PER_REQUEST_MAX = 1000;

assert(FLUSH_CONCAT_BYTES_MAX >= 64 * 1024, "flush batches must hold many small packets");
assert(CLOSE_LINGER_MS < SHUTDOWN_TIMEOUT_MS, "shutdown must outwait a closing connection");
