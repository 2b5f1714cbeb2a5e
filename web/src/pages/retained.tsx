/** Retained messages matching an MQTT topic filter; delete one. */
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.ts";
import { type Column, ListView, SearchInput, useList } from "../components.tsx";
import * as format from "../format.ts";

interface Retained {
  topic: string;
  qos: number;
  payloadBytes: number;
  payloadPreview: string;
  previewTruncated: boolean;
  expiresAt: string | null;
}

export function RetainedPage() {
  const [filter, setFilter] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const list = useList<Retained>("/retained", { filter });
  const remove = async (topic: string) => {
    if (!confirm(`Delete the retained message of "${topic}"?`)) return;
    try {
      await api("DELETE", `/retained/${encodeURIComponent(topic)}`);
      setNotice(`Deleted the retained message of "${topic}".`);
    } catch (err) {
      setNotice(err instanceof ApiError ? err.message : String(err));
    }
    list.reload();
  };
  const columns: Column<Retained>[] = [
    { title: "Topic", cell: (r) => <code>{r.topic}</code> },
    { title: "QoS", cell: (r) => r.qos, class: "num" },
    { title: "Size", cell: (r) => format.bytes(r.payloadBytes), class: "num" },
    {
      title: "Payload",
      cell: (r) => (
        <code class="payload">{format.payloadPreview(r.payloadPreview, r.previewTruncated)}</code>
      ),
    },
    { title: "Expires", cell: (r) => (r.expiresAt === null ? "never" : format.time(r.expiresAt)) },
    {
      title: "",
      cell: (r) => (
        <button type="button" class="danger" onClick={() => remove(r.topic)}>
          Delete
        </button>
      ),
    },
  ];
  return (
    <>
      {notice !== null && (
        <div class="banner notice" role="status">
          {notice}
        </div>
      )}
      <ListView
        title="Retained messages"
        list={list}
        columns={columns}
        rowKey={(r) => r.topic}
        empty={filter !== "" ? `no retained message matches ${filter}` : "no retained messages"}
        filters={
          <SearchInput
            label="Topic filter"
            name="filter"
            placeholder="MQTT filter, e.g. sensors/#"
            onSearch={setFilter}
          />
        }
      />
    </>
  );
}
