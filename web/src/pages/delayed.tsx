/**
 * Delayed messages: what was published to `$delayed/<seconds>/<topic>` and waits for its time,
 * earliest due first, searchable by publisher and target topic; cancel one (it is never
 * published). A node without delayed publish (mqtt_delayed off, or no broker role) answers 404
 * for the route, and the page says so rather than showing an empty list.
 */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { type Column, SearchInput, useList } from "../components.tsx";
import * as format from "../format.ts";
import { CardList, DeleteButton, OutcomeBanner, useOutcome } from "../forms.tsx";

interface Delayed {
  id: string;
  topic: string;
  qos: number;
  retain: boolean;
  payloadBytes: number;
  publishedAtMs: number;
  dueAtMs: number;
  clientId: string;
}

/** "in 58s", or "due now" once the time passed (the publisher sends it within a tick). */
function dueIn(dueAtMs: number): string {
  const seconds = Math.round((dueAtMs - Date.now()) / 1000);
  return seconds <= 0 ? "due now" : `in ${format.duration(seconds)}`;
}

const atMs = (ms: number) => format.time(new Date(ms).toISOString());

export function DelayedPage() {
  const [clientId, setClientId] = useState("");
  const [topic, setTopic] = useState("");
  const list = useList<Delayed>("/delayed", { clientId, topic });
  const outcome = useOutcome();
  const cancel = async (message: Delayed) => {
    if (!confirm(`Cancel delayed message ${message.id} to "${message.topic}"?`)) return;
    await outcome.run(async () => {
      await api("DELETE", `/delayed/${encodeURIComponent(message.id)}`);
      const what = `delayed message ${message.id} to "${message.topic}"`;
      return `Cancelled ${what}: it will not be published.`;
    });
    list.reload();
  };
  if (list.error?.status === 404) {
    return (
      <section>
        <h1>Delayed messages</h1>
        <div class="empty" data-state="unavailable">
          Delayed publish is off on this node ([mqtt_delayed] enable = false, or no broker role):
          messages to <code>$delayed/…</code> are not held here.
        </div>
      </section>
    );
  }
  const columns: Column<Delayed>[] = [
    { title: "Id", cell: (d) => <code>{d.id}</code>, class: "num" },
    { title: "Topic", cell: (d) => <code>{d.topic}</code> },
    { title: "Publisher", cell: (d) => <code>{d.clientId}</code> },
    { title: "QoS", cell: (d) => d.qos, class: "num" },
    { title: "Retain", cell: (d) => (d.retain ? "yes" : "no") },
    { title: "Size", cell: (d) => format.bytes(d.payloadBytes), class: "num" },
    { title: "Published", cell: (d) => atMs(d.publishedAtMs) },
    { title: "Due", cell: (d) => `${atMs(d.dueAtMs)} (${dueIn(d.dueAtMs)})` },
    { title: "", cell: (d) => <DeleteButton label="Cancel" onClick={() => cancel(d)} /> },
  ];
  const searching = clientId !== "" || topic !== "";
  return (
    <section>
      <h1>Delayed messages</h1>
      <p class="muted page-about">
        Published to <code>$delayed/&lt;seconds&gt;/&lt;topic&gt;</code> and waiting for their time,
        earliest due first. Payloads are not shown.
      </p>
      <div class="filters">
        <SearchInput
          label="Publisher"
          name="clientId"
          placeholder="exact client id"
          onSearch={setClientId}
        />
        <SearchInput label="Topic" name="topic" placeholder="exact topic" onSearch={setTopic} />
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(d) => d.id}
        empty={searching ? "no delayed message matches" : "no delayed messages waiting"}
      />
    </section>
  );
}
