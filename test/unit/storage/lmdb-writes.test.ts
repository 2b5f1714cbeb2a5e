/**
 * A failed LMDB commit (here: a full tmpfs, mounted in a user and mount namespace of its own so
 * no privileges are needed) must reject the awaited write and nothing else: an unhandled
 * rejection would end the broker. lmdb-js's event-turn batching made one such rejection; the
 * environments openLmdb() opens have it off. The same writes through lmdb's own open() show
 * the difference.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const HELPERS = new URL("../../../src/storage/lmdb-writes.ts", import.meta.url).pathname;

/** Fills a 2 MiB tmpfs with LMDB writes; prints what happened; exits 3 on an unhandled one. */
function fill(opener: "openLmdb" | "open"): { status: number | null; output: string } {
  const directory = mkdtempSync(join(tmpdir(), "rmq-lmdb-full-"));
  const program = `
    import { open } from "lmdb";
    import { lmdbWrite, openLmdb } from ${JSON.stringify(HELPERS)};
    process.on("unhandledRejection", (reason) => {
      console.log("unhandled: " + (reason?.message ?? reason));
      process.exit(3);
    });
    const env = ${opener === "open" ? "open" : "openLmdb"}({ path: process.argv[1] + "/env" });
    const db = env.openDB({ name: "sessions" });
    try {
      await lmdbWrite(env.transaction(() => {
        for (let i = 0; i < 2000; i++) void db.put("k" + i, { v: "x".repeat(2000) });
      }));
      console.log("committed");
    } catch (err) {
      console.log("refused: " + (err.cause?.message ?? err.message));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log("alive");
  `;
  const script = `mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"`;
  const result = spawnSync(
    "unshare",
    ["--user", "--map-root-user", "--mount", "sh", "-c", script, directory].concat([
      process.execPath,
      "--input-type=module",
      "-e",
      program,
      directory,
    ]),
    { encoding: "utf8", timeout: 60_000 },
  );
  rmSync(directory, { recursive: true, force: true });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("a commit failing on a full disk rejects the awaited write and leaves the process up", () => {
  const { status, output } = fill("openLmdb");
  assert.match(output, /refused: /, output);
  assert.match(output, /alive/, output);
  assert.equal(status, 0, output);
});

test("lmdb's default event-turn batching would have ended the process (the reason for openLmdb)", () => {
  const { status, output } = fill("open");
  assert.match(output, /refused: /, output);
  assert.equal(status, 3, output);
});
