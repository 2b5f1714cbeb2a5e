/**
 * Wakes long-polling fetches when a partition they read gets new data. A fetch registers one
 * wake-up for all its partitions; the first append to any of them (or the deadline) ends the
 * wait, and the fetch then re-reads everything it asked for.
 */
export class PartitionWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Wakes every fetch waiting on `key` ("topic/partition"). */
  notify(key: string): void {
    const wakers = this.#waiting.get(key);
    if (wakers === undefined) return;
    this.#waiting.delete(key);
    for (const wake of wakers) wake();
  }

  /** Wakes every waiting fetch (topic deleted, broker stopping). */
  notifyAll(): void {
    for (const key of [...this.#waiting.keys()]) this.notify(key);
  }

  /** Resolves on the first append to one of `keys`, after `timeoutMs`, or when `signal` aborts. */
  wait(keys: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (timeoutMs <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        for (const key of keys) {
          const wakers = this.#waiting.get(key);
          wakers?.delete(done);
          if (wakers?.size === 0) this.#waiting.delete(key);
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener("abort", done, { once: true });
      for (const key of keys) {
        let wakers = this.#waiting.get(key);
        if (wakers === undefined) {
          wakers = new Set();
          this.#waiting.set(key, wakers);
        }
        wakers.add(done);
      }
    });
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
