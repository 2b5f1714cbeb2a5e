/**
 * MQTT codec throughput on 64-byte QoS 0 PUBLISH packets, the relay workload of DESIGN.md
 * section 7. Run: node_modules/.bin/node bench/codec.bench.ts [--seconds 2]
 * Prints one JSON line per measurement.
 */
import mqttPacket from "mqtt-packet";
import {
  encodePublish,
  MqttParser,
  type Packet,
  type PublishPacket,
} from "../src/protocol/mqtt/index.ts";

const PACKET_BYTES = 64;
const PACKETS_PER_CHUNK = 1024; // 64 KiB, the size of a typical socket read
const secondsArgument = process.argv.indexOf("--seconds");
const durationMs = (secondsArgument > 0 ? Number(process.argv[secondsArgument + 1]) : 2) * 1000;

const topic = "bench/topic/0001";
const payloadBytes = PACKET_BYTES - 2 - 2 - topic.length;
const publish: PublishPacket = {
  type: "publish",
  topic,
  payload: Buffer.alloc(payloadBytes, 0x61),
  qos: 0,
  retain: false,
  dup: false,
};

function measure(name: string, unitsPerRound: number, round: () => void): void {
  const warmupEnd = performance.now() + 300;
  while (performance.now() < warmupEnd) round();
  let units = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    round();
    units += unitsPerRound;
    now = performance.now();
  }
  const perSecond = Math.round((units * 1000) / (now - start));
  console.log(
    JSON.stringify({ bench: name, packetBytes: PACKET_BYTES, packetsPerSecond: perSecond }),
  );
}

function benchParse(version: 4 | 5): void {
  const one = encodePublish(publish, version);
  if (version === 4 && one.length !== PACKET_BYTES)
    throw new Error(`packet is ${one.length} bytes`);
  const chunk = Buffer.concat(Array.from({ length: PACKETS_PER_CHUNK }, () => one));
  let parsed = 0;
  let lastTopicLength = 0;
  const parser = new MqttParser((packet: Packet) => {
    parsed++;
    if (packet.type === "publish") lastTopicLength = packet.topic.length;
  }, 1 << 20);
  parser.protocolVersion = version;
  measure(`parse v${version === 5 ? "5" : "3.1.1"} QoS0 PUBLISH`, PACKETS_PER_CHUNK, () => {
    const error = parser.push(chunk);
    if (error !== null) throw error;
  });
  if (parsed === 0 || lastTopicLength !== topic.length) throw new Error("nothing parsed");
}

function benchParseSplit(): void {
  // The same bytes in 1500-byte reads (an MTU), so packets straddle chunk boundaries.
  const one = encodePublish(publish, 4);
  const all = Buffer.concat(Array.from({ length: PACKETS_PER_CHUNK }, () => one));
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < all.length; offset += 1500) {
    chunks.push(all.subarray(offset, offset + 1500));
  }
  const parser = new MqttParser(() => {}, 1 << 20);
  measure("parse v3.1.1 QoS0 PUBLISH, 1500-byte reads", PACKETS_PER_CHUNK, () => {
    for (const chunk of chunks) {
      const error = parser.push(chunk);
      if (error !== null) throw error;
    }
  });
}

function benchEncode(version: 4 | 5): void {
  let bytes = 0;
  measure(`encode v${version === 5 ? "5" : "3.1.1"} QoS0 PUBLISH`, PACKETS_PER_CHUNK, () => {
    for (let index = 0; index < PACKETS_PER_CHUNK; index++) {
      bytes += encodePublish(publish, version).length;
    }
  });
  if (bytes === 0) throw new Error("nothing encoded");
}

/** mqtt-packet (what Aedes and MQTT.js use) on the same bytes, for scale. */
function benchMqttPacketParse(): void {
  const one = encodePublish(publish, 4);
  const chunk = Buffer.concat(Array.from({ length: PACKETS_PER_CHUNK }, () => one));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let parsed = 0;
  parser.on("packet", () => parsed++);
  measure("reference: mqtt-packet parse v3.1.1 QoS0 PUBLISH", PACKETS_PER_CHUNK, () => {
    parser.parse(chunk);
  });
  if (parsed === 0) throw new Error("nothing parsed");
}

benchParse(4);
benchParse(5);
benchParseSplit();
benchEncode(4);
benchEncode(5);
benchMqttPacketParse();
