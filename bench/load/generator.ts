/**
 * The load process bench/run.ts forks for one workload against one broker: the subscriber and
 * the publishers share its event loop (one core; the broker gets the other), so the QoS 0
 * end-to-end limit is a plain counter. Protocol with bench/run.ts (IPC): it reports "ready"
 * once every client is connected and subscribed; "start" starts publishing; "mark" and "stop"
 * answer with a Snapshot; "stop" then closes every socket and exits.
 */
import { connectPublishers, startPublishers } from "./publisher.ts";
import { startSubscriber } from "./subscriber.ts";
import { type Command, Flow, fail, type LoadSpec, report, type Snapshot } from "./wire.ts";

/** QoS 0: parked publishers are released if nothing arrived for this long (see Flow). */
const STALL_CHECK_INTERVAL_MS = 500;

function readSpec(): LoadSpec {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error("usage: generator.ts '<LoadSpec JSON>'");
  const spec = JSON.parse(raw) as LoadSpec;
  if (!(spec.port > 0 && spec.port < 65536)) throw new Error(`bad port ${spec.port}`);
  if (spec.qos !== 0 && spec.qos !== 1) throw new Error(`bad qos ${spec.qos}`);
  if (!(spec.publisherCount >= 1 && spec.publisherCount <= 1000)) {
    throw new Error(`bad publisher count ${spec.publisherCount}`);
  }
  return spec;
}

function snapshot(flow: Flow): Snapshot {
  const cpu = process.cpuUsage();
  return {
    receivedCount: flow.receivedCount,
    sentCount: flow.sentCount,
    ackedCount: flow.ackedCount,
    timeMs: performance.now(),
    cpuMicros: cpu.user + cpu.system,
  };
}

async function main(): Promise<void> {
  const spec = readSpec();
  const flow = new Flow(spec.qos === 0 ? spec.inFlightMax : Number.POSITIVE_INFINITY);
  const subscriber = await startSubscriber(spec, flow);
  const publishers = await connectPublishers(spec, flow);
  setInterval(() => flow.releaseIfStalled(), STALL_CHECK_INTERVAL_MS).unref();
  process.on("message", (message: Command) => {
    if (message.cmd === "start") {
      flow.running = true;
      startPublishers(spec, flow, publishers);
    } else if (message.cmd === "mark") {
      report({ event: "mark", snapshot: snapshot(flow) });
    } else if (message.cmd === "stop") {
      flow.running = false;
      report({ event: "stopped", snapshot: snapshot(flow) });
      for (const client of [subscriber, ...publishers]) client.socket.destroy();
      process.disconnect?.();
    }
  });
  // The run is over if bench/run.ts goes away.
  process.on("disconnect", () => process.exit(0));
  report({ event: "ready" });
}

main().catch(fail);
