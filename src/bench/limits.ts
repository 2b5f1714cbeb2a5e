/**
 * Limits and defaults of `robustmq bench`, in one place. Every queue, window, wait and phase of a
 * run is bounded by one of these, so a broker that refuses, stalls or drops connections turns
 * into errors in the summary rather than a hang.
 */
import { assert } from "../errors.ts";

/** Connections one run may open (all workers together). */
export const CLIENTS_MAX = 1_000_000;
/** Worker threads one run may start. */
export const WORKERS_MAX = 64;
/** Largest payload `--payload-size` accepts (the MQTT limit is 256 MiB; brokers allow far less). */
export const PAYLOAD_SIZE_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Every payload of at least this size starts with a send timestamp (8 bytes) and a marker
 * (8 bytes), so a subscriber can tell its own messages apart and measure their latency.
 */
export const PAYLOAD_HEADER_BYTES = 16;
/** Unacknowledged QoS 1/2 PUBLISH packets per publisher: bounded by the packet identifier space. */
export const INFLIGHT_COUNT_MAX = 65_535;
/** Longest `--duration` (one day). */
export const DURATION_SECONDS_MAX = 86_400;
/** How long a run publishes (or holds connections) when neither -d nor -n is given. */
export const DURATION_SECONDS_DEFAULT = 10;
/** With -n and no -d, publishing still ends after this long. */
export const DURATION_WITH_COUNT_SECONDS_DEFAULT = 600;
/** Longest wait for one connection's CONNACK (TCP and TLS handshakes included). */
export const CONNECT_TIMEOUT_SECONDS_DEFAULT = 10;
export const CONNECT_TIMEOUT_SECONDS_MAX = 600;
/** Connection attempts one worker keeps in flight when `--conn-rate 0` (as fast as possible). */
export const HANDSHAKES_PENDING_MAX = 512;
/**
 * The connect phase ends at the latest after its paced span plus the connect timeout plus this
 * many seconds per thousand clients (a healthy broker accepts thousands of connections a second).
 */
export const CONNECT_PHASE_SLACK_SECONDS_PER_THOUSAND = 2;
/** How long SUBSCRIBE may wait for its SUBACK. */
export const SUBACK_TIMEOUT_MS = 10_000;
/** After publishing stops: the longest wait for outstanding acks and deliveries. */
export const DRAIN_GRACE_MS = 5_000;
/** The drain also ends once nothing has been received or acknowledged for this long. */
export const DRAIN_IDLE_MS = 500;
/** How often the drain looks at the counters. */
export const DRAIN_POLL_MS = 100;
/** How long workers may take to disconnect their clients and report. */
export const CLOSE_TIMEOUT_MS = 5_000;
/** How long a worker thread may take to load and set up its clients. */
export const WORKER_START_TIMEOUT_MS = 30_000;
/** How long a worker may take to answer a phase change before it is counted as stuck. */
export const WORKER_REPLY_SLACK_MS = 3_000;
/** Workers report their counters this often (the progress line uses them). */
export const PROGRESS_INTERVAL_MS = 1_000;
/** Keep alive sent in CONNECT by default; clients send PINGREQ at half this interval. */
export const KEEPALIVE_SECONDS_DEFAULT = 60;
export const KEEPALIVE_SECONDS_MAX = 65_535;
/** How often each worker looks for clients due a PINGREQ. */
export const KEEPALIVE_CHECK_MS = 1000;
/** Addresses `--source-ip` may list. */
export const SOURCE_ADDRESSES_MAX = 65_536;
/** Latencies above this (one hour, in microseconds) are recorded as this value. */
export const LATENCY_MICROS_MAX = 3_600_000_000;
/** One write of PUBLISH packets holds at most this many bytes (but at least one packet)... */
export const PUBLISH_BATCH_BYTES_MAX = 64 * 1024;
/** ...and at most this many packets. */
export const PUBLISH_BATCH_COUNT_MAX = 256;
/** A paced publisher that fell behind catches up by at most this many seconds of messages. */
export const PACING_BACKLOG_SECONDS_MAX = 1;
/** The paced publishers' timer never runs more often than this... */
export const PACING_TICK_MS_MIN = 1;
/** ...nor less often than this. */
export const PACING_TICK_MS_MAX = 100;
/** Acks (PUBACK, PUBREC, PUBREL, PUBCOMP) one client gathers from one read before writing. */
export const ACKS_PER_WRITE_MAX = 4096;
/** Largest packet the generator accepts from a broker (the MQTT maximum). */
export const RECEIVED_PACKET_BYTES_MAX = 268_435_460;
/** Matching work (publishers x wildcard filters) spent to predict how many messages arrive. */
export const FANOUT_MATCHES_MAX = 10_000_000;
/** Longest client identifier MQTT 3.1 (protocol level 3) brokers must accept. */
export const CLIENT_ID_LENGTH_V31_MAX = 23;

assert(PAYLOAD_HEADER_BYTES === 16, "payload header: 8-byte timestamp + 8-byte marker");
assert(PUBLISH_BATCH_COUNT_MAX >= 1 && PUBLISH_BATCH_BYTES_MAX >= 1024, "publish batches");
assert(DRAIN_IDLE_MS < DRAIN_GRACE_MS, "the drain's idle cut-off must come before its grace");
assert(PACING_TICK_MS_MIN <= PACING_TICK_MS_MAX, "pacing tick bounds");
assert(INFLIGHT_COUNT_MAX <= 65_535, "packet identifiers are 16-bit");
