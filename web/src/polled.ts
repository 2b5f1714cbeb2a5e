/**
 * A resource polled on a timer (the storage page's sections): the last answer, the last error,
 * and `off` once the node answers 404, which means it does not run that capability.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, api } from "./api.ts";

/** How often a polled section reloads. */
export const POLL_REFRESH_MS = 3000;

export interface Polled<T> {
  data: T | null;
  error: ApiError | null;
  off: boolean;
  /** Loads again now (after a change), without waiting for the timer. */
  reload(): void;
  /** Takes an answer the API already gave (a PUT that returns the new state). */
  replace(data: T): void;
}

/** Loads `path` now and every POLL_REFRESH_MS; `off` is true when the node answers 404. */
export function usePolled<T>(path: string): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [off, setOff] = useState(false);
  const load = useCallback(() => {
    api<T>("GET", path).then(
      (loaded) => {
        setData(loaded);
        setError(null);
      },
      (err: unknown) => {
        const failure = err instanceof ApiError ? err : new ApiError(0, "ERROR", String(err));
        if (failure.status === 404) setOff(true);
        else setError(failure);
      },
    );
  }, [path]);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);
  return { data, error, off, reload: load, replace: setData };
}
