import { readFileSync } from "node:fs";
import { startBroker } from "./helpers/broker-process.ts";
import { connectRaw, openRaw } from "./helpers/raw-client.ts";
const b = await startBroker({ logLevel: "info" });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${b.child.pid}/status`, "utf8"))?.[1]) / 1024;
const vm = () => Number(/VmSize:\s+(\d+)/.exec(readFileSync(`/proc/${b.child.pid}/status`, "utf8"))?.[1]) / 1024;
console.log("before rss", rss(), "vm", vm());
const clients = [];
for (let i = 0; i < 300; i++) {
  const { client } = await connectRaw(b.port, { clientId: `big-${i}` });
  // PUBLISH declaring remaining length 10_000_000
  const rl = 10_000_000; const v: number[] = []; let x = rl; do { let by = x & 0x7f; x >>>= 7; if (x > 0) by |= 0x80; v.push(by); } while (x > 0);
  client.sendBytes(Buffer.concat([Buffer.from([0x30, ...v]), Buffer.alloc(1000, 1)]));
  clients.push(client);
}
await new Promise((r) => setTimeout(r, 1000));
console.log("after rss", rss(), "vm", vm(), "alive", b.child.exitCode);
for (const c of clients) c.destroy();
await b.stop();
