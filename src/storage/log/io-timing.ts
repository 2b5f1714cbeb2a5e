/**
 * How long the log's disk writes and fsyncs take, reported by every group commit of the
 * process (one node, one disk budget). No-ops until the node's metrics install observers, so the
 * storage engine knows nothing of Prometheus and pays one call per group commit.
 */
export interface IoTiming {
  /** A writev of one group commit, in seconds. */
  write(seconds: number): void;
  /** One fsync, in seconds. */
  fsync(seconds: number): void;
}

export const ioTiming: IoTiming = {
  write: () => {},
  fsync: () => {},
};
