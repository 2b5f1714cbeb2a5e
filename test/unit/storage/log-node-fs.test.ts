/** The partition log suite on the real file system, in a fresh temporary directory per test. */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeFileSystem } from "../../../src/storage/log/file-system.ts";
import { runCompactionSuite } from "./compaction-suite.ts";
import { type LogTestFactory, runLogSuite } from "./log-suite.ts";
import { runStartOffsetSuite } from "./start-offset-suite.ts";

const factory: LogTestFactory = async () => {
  const root = await mkdtemp(join(tmpdir(), "rmq-log-"));
  const directory = join(root, "topic-0");
  return {
    fs: new NodeFileSystem(),
    directory,
    readFile: (path) => readFile(path),
    writeFile: (path, bytes) => writeFile(path, bytes),
    removeFile: (path) => rm(path),
    listFiles: async () => (await readdir(directory)).sort(),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
};

runLogSuite("node fs", factory);
runCompactionSuite("node fs", factory);
runStartOffsetSuite("node fs", factory);
