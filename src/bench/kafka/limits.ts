/**
 * Limits and defaults of `robustmq bench kafka`. Every wait of a run is bounded by one of these
 * (or by the ones of src/bench/limits.ts), so a broker that refuses, stalls or drops connections
 * turns into errors in the summary rather than a hang.
 */

export const KAFKA_PORT_DEFAULT = 9092;
export const TOPIC_DEFAULT = "rmq-bench";
/** Producers plus consumers of one run: each is one connection with a pipeline of requests. */
export const KAFKA_CLIENTS_MAX = 10_000;
/** Kafka's own limit on CreateTopics. */
export const PARTITIONS_MAX = 10_000;
export const RECORD_SIZE_BYTES_DEFAULT = 1024;
/** A record must fit a default-configured broker's 1 MiB message.max.bytes with room to spare. */
export const RECORD_SIZE_BYTES_MAX = 1_000_000;
export const BATCH_RECORDS_DEFAULT = 16;
/** offsetDelta of a record stays a 2-byte varint below 8192, which the batch template relies on. */
export const BATCH_RECORDS_MAX = 8191;
/** A batch (records x size) larger than this is refused: brokers cap requests near 100 MiB. */
export const BATCH_BYTES_MAX = 64 * 1024 * 1024;
export const LINGER_MS_MAX = 60_000;
/** Kafka's max.in.flight.requests.per.connection default. */
export const INFLIGHT_DEFAULT = 5;
export const INFLIGHT_MAX = 1000;
/** Produce request timeout_ms sent to the broker, and how long a produce may wait for its answer. */
export const PRODUCE_TIMEOUT_MS = 30_000;
/** Fetch long poll: the broker answers at the latest after this long with nothing new. */
export const FETCH_MAX_WAIT_MS = 200;
/** Fetch limits: Kafka consumer defaults (fetch.max.bytes, max.partition.fetch.bytes). */
export const FETCH_MAX_BYTES = 50 * 1024 * 1024;
export const FETCH_PARTITION_MAX_BYTES = 1024 * 1024;
/** Largest response frame accepted from a broker. */
export const RESPONSE_BYTES_MAX = 256 * 1024 * 1024;
/** After producing stops: the longest wait for acks and for consumers to catch up. */
export const KAFKA_DRAIN_GRACE_MS = 10_000;
/** The drain also ends once nothing has been acknowledged or received for this long. */
export const KAFKA_DRAIN_IDLE_MS = 1_000;
/** Unlimited producers yield to the event loop after this many batches written in a row. */
export const BATCHES_PER_TURN_MAX = 64;
