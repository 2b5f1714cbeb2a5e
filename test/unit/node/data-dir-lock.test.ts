import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";
import { LOCK_FILE, lockDataDir } from "../../../src/node/data-dir-lock.ts";

describe("data_dir lock", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rmq-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lockPath = () => join(dir, LOCK_FILE);

  test("is taken with this pid and given back on release", () => {
    const lock = lockDataDir(dir);
    assert.equal(JSON.parse(readFileSync(lockPath(), "utf8")).pid, process.pid);
    lock.release();
    assert.equal(existsSync(lockPath()), false);
  });

  test("refuses a directory held by a running process", async () => {
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => holder.once("spawn", resolve));
      const stat = readFileSync(`/proc/${holder.pid}/stat`, "utf8");
      const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      writeFileSync(lockPath(), JSON.stringify({ pid: holder.pid, startTicks }));
      assert.throws(
        () => lockDataDir(dir),
        (err: unknown) =>
          err instanceof RobustMQError &&
          err.code === ErrorCode.DATA_DIR_LOCKED &&
          err.message.includes(`pid ${holder.pid}`),
      );
      assert.equal(JSON.parse(readFileSync(lockPath(), "utf8")).pid, holder.pid, "left alone");
    } finally {
      holder.kill();
    }
  });

  test("takes over the lock of a process that is gone", async () => {
    const gone = spawn("true", { stdio: "ignore" });
    await new Promise((resolve) => gone.once("exit", resolve));
    writeFileSync(lockPath(), JSON.stringify({ pid: gone.pid, startTicks: 1 }));
    lockDataDir(dir).release();
  });

  test("takes over the lock of a killed process its parent has not reaped yet", async () => {
    const zombie = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((resolve) => zombie.once("spawn", resolve));
    writeFileSync(lockPath(), JSON.stringify({ pid: zombie.pid, startTicks: null }));
    // SIGKILL, then take the lock before this (the parent's) event loop sees the exit.
    process.kill(zombie.pid as number, "SIGKILL");
    const deadline = Date.now() + 5000;
    while (!readFileSync(`/proc/${zombie.pid}/stat`, "utf8").includes(") Z ")) {
      assert.ok(Date.now() < deadline, "the child became a zombie");
    }
    lockDataDir(dir).release();
  });

  test("takes over a lock whose pid now belongs to a process started later", () => {
    // The parent runs, but started at another time than the lock says: a reused pid.
    writeFileSync(lockPath(), JSON.stringify({ pid: process.ppid, startTicks: 1 }));
    lockDataDir(dir).release();
  });

  test("takes over a lock of this pid (left before a restart) and an unreadable one", () => {
    writeFileSync(lockPath(), JSON.stringify({ pid: process.pid, startTicks: null }));
    lockDataDir(dir).release();
    writeFileSync(lockPath(), "{ half writ");
    lockDataDir(dir).release();
  });

  test("release leaves a lock that another process took over", () => {
    const lock = lockDataDir(dir);
    writeFileSync(lockPath(), JSON.stringify({ pid: process.ppid, startTicks: null }));
    lock.release();
    assert.equal(existsSync(lockPath()), true);
  });
});
