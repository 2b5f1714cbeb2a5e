/**
 * LMDB (lmdb-js) environments and write promises. When a commit fails (disk full, I/O error)
 * lmdb-js rejects each write's promise with an error whose `commitError` is a second promise, rejected with the
 * cause. Nothing else observes that second promise, so unless the caller does, it surfaces as an
 * unhandled rejection and ends the process: a full disk would take the broker down instead of
 * failing one write. Every awaited LMDB write goes through `lmdbWrite`.
 */

import { open, type RootDatabase, type RootDatabaseOptionsWithPath } from "lmdb";

/**
 * Opens an LMDB environment the way every store of the broker needs it. Event-turn batching is
 * off: with it, lmdb-js gathers the writes of an event turn under a commit promise of its own
 * that nothing can observe, and a failed commit (disk full) rejects that promise unhandled,
 * which ends the process. Every write here is a transaction or a put the caller awaits.
 */
export function openLmdb<V = unknown, K extends Key = Key>(
  options: RootDatabaseOptionsWithPath,
): RootDatabase<V, K> {
  return open<V, K>({ ...options, eventTurnBatching: false });
}

type Key = Parameters<RootDatabase["get"]>[0];

interface CommitFailure {
  commitError?: Promise<unknown>;
  cause?: unknown;
}

/** Awaits an LMDB write; a failed commit rejects with the real cause attached as `cause`. */
export async function lmdbWrite<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    const failure = err as CommitFailure;
    const detail = failure?.commitError;
    if (detail instanceof Promise) {
      // Settles in the same callback that rejected `write`, before this continuation ran.
      failure.cause = await detail.then(
        () => undefined,
        (cause: unknown) => cause,
      );
    }
    throw err;
  }
}
