/**
 * The storage page's Kafka consumer groups (GET /api/v1/kafka/groups): state, members and total
 * lag per group; a group's row opens to its committed offsets against each partition's end.
 * Which groups are open is kept across reloads, by group id.
 */
import { useState } from "preact/hooks";
import { type Column, DataTable, ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";
import { usePolled } from "../polled.ts";

interface GroupPartition {
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number;
  lag: number;
}

interface KafkaGroup {
  groupId: string;
  state: string;
  generationId: number;
  protocol: string | null;
  members: number;
  lag: number;
  partitions: GroupPartition[];
}

/** Lag is shown in amber when a group is behind, so a stuck consumer stands out. */
function Lag({ value }: { value: number }) {
  return <span class={value > 0 ? "lagging" : undefined}>{format.count(value)}</span>;
}

const PARTITION_COLUMNS: Column<GroupPartition>[] = [
  { title: "Topic", cell: (p) => <code>{p.topic}</code> },
  { title: "Partition", cell: (p) => p.partition, class: "num" },
  { title: "Committed offset", cell: (p) => format.count(p.committedOffset), class: "num" },
  { title: "End offset", cell: (p) => format.count(p.logEndOffset), class: "num" },
  { title: "Lag", cell: (p) => <Lag value={p.lag} />, class: "num" },
];

const GROUP_COLUMN_COUNT = 7;

function GroupRows(props: { group: KafkaGroup; open: boolean; onToggle(): void }) {
  const { group, open } = props;
  const count = group.partitions.length;
  return (
    <>
      <tr data-row={group.groupId}>
        <td>
          <code>{group.groupId}</code>
        </td>
        <td>
          <span class={`badge ${group.state === "Stable" ? "healthy" : ""}`}>{group.state}</span>
        </td>
        <td class="num">{group.members}</td>
        <td class="num">{group.generationId}</td>
        <td class="num">
          <Lag value={group.lag} />
        </td>
        <td class="num">{count}</td>
        <td>
          <button type="button" disabled={count === 0} onClick={props.onToggle}>
            {open ? "Hide offsets" : "Offsets"}
          </button>
        </td>
      </tr>
      {open && count > 0 && (
        <tr class="detail" data-detail={group.groupId}>
          <td colSpan={GROUP_COLUMN_COUNT}>
            <DataTable
              columns={PARTITION_COLUMNS}
              rows={group.partitions}
              rowKey={(p) => `${p.topic}/${p.partition}`}
              empty="no committed offsets"
            />
          </td>
        </tr>
      )}
    </>
  );
}

function GroupTable({ groups }: { groups: KafkaGroup[] }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Group</th>
            <th>State</th>
            <th class="num">Members</th>
            <th class="num">Generation</th>
            <th class="num">Total lag</th>
            <th class="num">Partitions</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {groups.map((group) => (
            <GroupRows
              key={group.groupId}
              group={group}
              open={open.has(group.groupId)}
              onToggle={() => toggle(group.groupId)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function KafkaGroupsCard() {
  const { data, error, off } = usePolled<KafkaGroup[]>("/kafka/groups");
  return (
    <div class="card" data-section="kafka-groups">
      <h2>Kafka consumer groups</h2>
      <ErrorBanner error={error} />
      {off && <div class="empty">the Kafka listener is off on this node</div>}
      {data === null && !off && error === null && <div class="empty">Loading…</div>}
      {data !== null &&
        (data.length === 0 ? (
          <div class="empty">
            no consumer groups yet: a group is listed once a consumer joins it or commits an offset
          </div>
        ) : (
          <GroupTable groups={data} />
        ))}
    </div>
  );
}
