/**
 * Storage: the MQTT message log behind durable sessions (offsets, checkpoint, segments), the
 * Kafka topics and the Kafka consumer groups with their lag. A section whose capability is off
 * on this node (404) says so. Every section reloads every POLL_REFRESH_MS (3 s).
 */
import { type Column, DataTable, ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";
import { usePolled } from "../polled.ts";
import { KafkaGroupsCard } from "./kafka-groups.tsx";

interface Segment {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  corruptRegions: number;
}

interface MqttLog {
  logStartOffset: number;
  logEndOffset: number;
  sizeBytes: number;
  segments: Segment[];
  fsyncPolicy: string;
  appendFailures: number;
  persistentSessions: number;
  lastCheckpointAt: string | null;
  replayFromOffset: number | null;
}

interface KafkaTopic {
  name: string;
  partitions: number;
  records: number;
  sizeBytes: number;
  createdAt: string;
}

const SEGMENT_COLUMNS: Column<Segment>[] = [
  { title: "Base offset", cell: (s) => format.count(s.baseOffset), class: "num" },
  { title: "Next offset", cell: (s) => format.count(s.nextOffset), class: "num" },
  { title: "Size", cell: (s) => format.bytes(s.sizeBytes), class: "num" },
  {
    title: "Newest record",
    cell: (s) => (s.maxTimestamp < 0 ? "—" : format.time(new Date(s.maxTimestamp).toISOString())),
  },
  { title: "Corrupt ranges", cell: (s) => s.corruptRegions, class: "num" },
];

const TOPIC_COLUMNS: Column<KafkaTopic>[] = [
  { title: "Topic", cell: (t) => <code>{t.name}</code> },
  { title: "Partitions", cell: (t) => t.partitions, class: "num" },
  { title: "Records", cell: (t) => format.count(t.records), class: "num" },
  { title: "Size", cell: (t) => format.bytes(t.sizeBytes), class: "num" },
  { title: "Created", cell: (t) => format.time(t.createdAt) },
];

function MqttLogCard() {
  const { data, error, off } = usePolled<MqttLog>("/storage/mqtt");
  return (
    <div class="card" data-section="mqtt-log">
      <h2>MQTT message log</h2>
      <ErrorBanner error={error} />
      {off && <div class="empty">durable sessions are off on this node (mqtt_persistence)</div>}
      {data !== null && (
        <>
          <dl>
            <dt>Offsets</dt>
            <dd data-field="offsets">
              {format.count(data.logStartOffset)} – {format.count(data.logEndOffset)}
            </dd>
            <dt>Size</dt>
            <dd>{format.bytes(data.sizeBytes)}</dd>
            <dt>Persistent sessions</dt>
            <dd data-field="persistent-sessions">{format.count(data.persistentSessions)}</dd>
            <dt>fsync policy</dt>
            <dd>{data.fsyncPolicy}</dd>
            <dt>Last checkpoint</dt>
            <dd>
              {data.lastCheckpointAt === null
                ? "none yet"
                : `${format.time(data.lastCheckpointAt)} (replay from ${format.count(data.replayFromOffset ?? 0)})`}
            </dd>
            <dt>Failed appends</dt>
            <dd class={data.appendFailures > 0 ? "bad" : undefined}>{data.appendFailures}</dd>
          </dl>
          <DataTable
            columns={SEGMENT_COLUMNS}
            rows={data.segments}
            rowKey={(s) => String(s.baseOffset)}
            empty="no segments"
          />
        </>
      )}
    </div>
  );
}

function KafkaTopicsCard() {
  const { data, error, off } = usePolled<KafkaTopic[]>("/kafka/topics");
  return (
    <div class="card" data-section="kafka-topics">
      <h2>Kafka topics</h2>
      <ErrorBanner error={error} />
      {off && <div class="empty">the Kafka listener is off on this node</div>}
      {data !== null && (
        <DataTable
          columns={TOPIC_COLUMNS}
          rows={data}
          rowKey={(t) => t.name}
          empty="no Kafka topics yet"
        />
      )}
    </div>
  );
}

export function Storage() {
  return (
    <section>
      <h1>Storage</h1>
      <MqttLogCard />
      <KafkaTopicsCard />
      <KafkaGroupsCard />
    </section>
  );
}
