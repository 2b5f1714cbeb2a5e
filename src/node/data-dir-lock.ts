/**
 * One node per data directory. Two processes appending to the same logs and LMDB files
 * interleave their writes and tear each other's batches, so a node claims `data_dir` with a
 * lock file holding its pid before it opens any store, and a second node is refused.
 *
 * The lock outlives a kill -9, so a lock whose process is gone is stale and taken over. On
 * Linux the holder's start time (from /proc) is kept too: after a reboot or in a container, a
 * new process may carry the old pid, and only a pid with the same start time is the holder.
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, RobustMQError } from "../errors.ts";

export const LOCK_FILE = "robustmq.lock";

interface Holder {
  pid: number;
  /** Clock ticks since boot when the process started (Linux); null where unknown. */
  startTicks: number | null;
}

export interface DataDirLock {
  release(): void;
}

/** Claims `dataDir` (which exists) for this process, or throws RMQ_ERR_DATA_DIR_LOCKED. */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const me: Holder = { pid: process.pid, startTicks: startTicksOf(process.pid) };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(me)}\n`, { flag: "wx" });
      return { release: () => releaseIfOurs(path, me) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
    }
    const holder = readHolder(path);
    if (holder !== null && holder.pid !== me.pid && isRunning(holder)) {
      throw new RobustMQError(
        ErrorCode.DATA_DIR_LOCKED,
        `data_dir ${dataDir} is in use by another RobustMQ process (pid ${holder.pid}); ` +
          `stop it or choose another data_dir (lock file ${path})`,
      );
    }
    // Stale: its process is gone (or it is this pid, left by a process before a restart).
    unlinkSync(path);
  }
}

function readHolder(path: string): Holder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>;
    if (typeof parsed.pid !== "number" || !Number.isInteger(parsed.pid)) return null;
    return { pid: parsed.pid, startTicks: parsed.startTicks ?? null };
  } catch {
    return null; // unreadable or half written: its writer died before finishing it
  }
}

function isRunning(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(holder.pid);
  // A zombie (killed, not yet reaped by its parent) holds nothing any more.
  if (stat?.state === "Z") return false;
  const startTicks = stat?.startTicks ?? null;
  return holder.startTicks === null || startTicks === null || startTicks === holder.startTicks;
}

function startTicksOf(pid: number): number | null {
  return procStat(pid)?.startTicks ?? null;
}

/** Fields 3 and 22 of /proc/<pid>/stat (Linux); the name (field 2) may hold spaces and ")". */
function procStat(pid: number): { state: string; startTicks: number | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return { state: fields[0], startTicks: Number.isFinite(ticks) ? ticks : null };
  } catch {
    return null;
  }
}

function releaseIfOurs(path: string, me: Holder): void {
  const holder = readHolder(path);
  if (holder?.pid !== me.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to release.
  }
}
