/**
 * Aedes (npm, v1) as a benchmark peer: `net.createServer(aedes.handle)` with default options,
 * on a free loopback port. Prints the address as a JSON line shaped like RobustMQ's
 * (`"listener":"mqtt"`, `"address":"host:port"`), so bench/compare/brokers.ts starts both the
 * same way. Stops on SIGTERM or SIGINT.
 *
 *   node bench/peers/aedes-server.ts [--port N] [--level DIR]
 *
 * Without --level: Aedes's default in-memory persistence (aedes-persistence).
 * With --level DIR: aedes-persistence-level on a classic-level (LevelDB) database in DIR, which
 * is created here and removed at stop. aedes-persistence-level writes with LevelDB's defaults:
 * each put or batch goes to LevelDB's log through write(2), without `sync: true`, so without an
 * fsync per message (a process crash loses nothing, a machine crash may).
 */
import { mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { Aedes, type AedesOptions } from "aedes";
import { ClassicLevel } from "classic-level";

const HOST = "127.0.0.1";
const STOP_TIMEOUT_MS = 2000;

interface PeerOptions {
  port: number;
  /** classic-level database directory, or null for in-memory persistence. */
  levelDir: string | null;
}

function parseOptions(argv: readonly string[]): PeerOptions {
  const options: PeerOptions = { port: 0, levelDir: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag}: a value is missing`);
    if (flag === "--port") options.port = Number(value);
    else if (flag === "--level") options.levelDir = value;
    else throw new Error(`unknown option ${flag}: expected --port N or --level DIR`);
  }
  if (!(Number.isInteger(options.port) && options.port >= 0 && options.port < 65_536)) {
    throw new Error(`--port ${options.port}: expected 0-65535`);
  }
  return options;
}

type Persistence = NonNullable<AedesOptions["persistence"]>;

/** aedes-persistence-level has no type declarations: its factory, typed here. */
function levelPersistence(db: ClassicLevel<string, Buffer>): Persistence {
  const require = createRequire(import.meta.url);
  const factory = require("aedes-persistence-level") as (db: unknown) => Persistence;
  return factory(db);
}

const options = parseOptions(process.argv.slice(2));
let db: ClassicLevel<string, Buffer> | null = null;
if (options.levelDir !== null) {
  mkdirSync(options.levelDir, { recursive: true });
  db = new ClassicLevel<string, Buffer>(options.levelDir, { valueEncoding: "buffer" });
  await db.open();
}
const aedes = await Aedes.createBroker(db === null ? {} : { persistence: levelPersistence(db) });
const server = createServer(aedes.handle);
aedes.on("clientError", (client, err) => {
  process.stderr.write(`aedes client error ${client.id}: ${err.message}\n`);
});

server.listen({ host: HOST, port: options.port, backlog: 4096 }, () => {
  const address = server.address() as AddressInfo;
  const line = { level: "info", listener: "mqtt", address: `${address.address}:${address.port}` };
  const persistence = db === null ? "in memory" : `level at ${options.levelDir}`;
  process.stdout.write(`${JSON.stringify({ ...line, msg: `Aedes listening, ${persistence}` })}\n`);
});

async function closeDatabase(): Promise<void> {
  if (db === null || options.levelDir === null) return;
  await db.close();
  rmSync(options.levelDir, { recursive: true, force: true });
}

const stop = (): void => {
  setTimeout(() => process.exit(0), STOP_TIMEOUT_MS).unref();
  server.close();
  aedes.close(() => {
    closeDatabase().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`closing the level database: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
