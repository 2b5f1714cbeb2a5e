/** Subscriptions of every session, by client id or exact filter. */
import { useState } from "preact/hooks";
import { type Column, ListView, SearchInput, useList } from "../components.tsx";

interface Subscription {
  clientId: string;
  filter: string;
  shareGroup: string | null;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number | null;
}

const yesNo = (value: boolean) => (value ? "yes" : "no");

const columns: Column<Subscription>[] = [
  { title: "Client id", cell: (s) => <code>{s.clientId}</code> },
  { title: "Filter", cell: (s) => <code>{s.filter}</code> },
  { title: "Share group", cell: (s) => s.shareGroup ?? "—" },
  { title: "QoS", cell: (s) => s.qos, class: "num" },
  { title: "No local", cell: (s) => yesNo(s.noLocal) },
  { title: "Retain as published", cell: (s) => yesNo(s.retainAsPublished) },
  { title: "Retain handling", cell: (s) => s.retainHandling, class: "num" },
  { title: "Sub. id", cell: (s) => s.subscriptionId ?? "—", class: "num" },
];

export function Subscriptions() {
  const [clientId, setClientId] = useState("");
  const [filter, setFilter] = useState("");
  const list = useList<Subscription>("/subscriptions", { clientId, filter });
  const filtered = clientId !== "" || filter !== "";
  return (
    <ListView
      title="Subscriptions"
      list={list}
      columns={columns}
      rowKey={(s) => `${s.clientId}\u0000${s.filter}`}
      empty={filtered ? "no subscription matches these filters" : "no subscriptions"}
      filters={
        <>
          <SearchInput
            label="Client id"
            name="clientId"
            placeholder="exact client id"
            onSearch={setClientId}
          />
          <SearchInput
            label="Filter"
            name="filter"
            placeholder="exact, e.g. a/+/b"
            onSearch={setFilter}
          />
        </>
      }
    />
  );
}
