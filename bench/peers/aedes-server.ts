/**
 * Aedes (npm, v1) as a benchmark peer: `net.createServer(aedes.handle)` with default options
 * and in-memory persistence, on a free loopback port (or argv[2]). Prints the address as a JSON
 * line shaped like RobustMQ's (`"listener":"mqtt"`, `"address":"host:port"`), so
 * bench/compare/brokers.ts starts both the same way. Stops on SIGTERM or SIGINT.
 */
import { type AddressInfo, createServer } from "node:net";
import { Aedes } from "aedes";

const HOST = "127.0.0.1";
const port = Number(process.argv[2] ?? 0);

const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
aedes.on("clientError", (client, err) => {
  process.stderr.write(`aedes client error ${client.id}: ${err.message}\n`);
});

server.listen({ host: HOST, port, backlog: 4096 }, () => {
  const address = server.address() as AddressInfo;
  const line = { level: "info", listener: "mqtt", address: `${address.address}:${address.port}` };
  process.stdout.write(`${JSON.stringify({ ...line, msg: "Aedes listening" })}\n`);
});

const stop = (): void => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
