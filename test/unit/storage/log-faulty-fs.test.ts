/** The partition log suite on the in-memory fault-injecting file system, with faults off. */

import { runCompactionSuite } from "./compaction-suite.ts";
import { FaultyFileSystem } from "./faulty-fs.ts";
import { type LogTestFactory, runLogSuite } from "./log-suite.ts";
import { runStartOffsetSuite } from "./start-offset-suite.ts";

const factory: LogTestFactory = async () => {
  const fs = new FaultyFileSystem({ seed: 1 });
  const directory = "/data/topic-0";
  await fs.mkdir(directory);
  return {
    fs,
    directory,
    readFile: async (path) => {
      const bytes = fs.fileBytes(path);
      if (bytes === undefined) throw new Error(`no file ${path}`);
      return bytes;
    },
    writeFile: async (path, bytes) => fs.putFile(path, bytes),
    removeFile: async (path) => fs.unlink(path),
    listFiles: async () => fs.list(directory),
    cleanup: async () => {},
  };
};

runLogSuite("faulty fs, faults off", factory);
runCompactionSuite("faulty fs, faults off", factory);
runStartOffsetSuite("faulty fs, faults off", factory);
