/**
 * LMDB (lmdb-js) write promises. When a commit fails (disk full, I/O error) lmdb-js rejects
 * each write's promise with an error whose `commitError` is a second promise, rejected with the
 * cause. Nothing else observes that second promise, so unless the caller does, it surfaces as an
 * unhandled rejection and ends the process: a full disk would take the broker down instead of
 * failing one write. Every awaited LMDB write goes through `lmdbWrite`.
 */

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
