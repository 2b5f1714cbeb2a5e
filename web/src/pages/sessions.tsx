/** Sessions, online and offline, with their expiry and queues. */
import { useState } from "preact/hooks";
import { ClientFilters, type Column, ListView, useList } from "../components.tsx";
import * as format from "../format.ts";

interface Session {
  clientId: string;
  connected: boolean;
  expiryIntervalS: number;
  disconnectedAt: string | null;
  expiresAt: string | null;
  inflightCount: number;
  queuedCount: number;
  subscriptionsCount: number;
}

const columns: Column<Session>[] = [
  { title: "Client id", cell: (s) => <code>{s.clientId}</code> },
  {
    title: "Status",
    cell: (s) => (
      <span class={`badge ${s.connected ? "healthy" : "offline"}`}>
        {s.connected ? "connected" : "offline"}
      </span>
    ),
  },
  { title: "Expiry interval", cell: (s) => `${format.count(s.expiryIntervalS)} s` },
  { title: "Offline since", cell: (s) => format.time(s.disconnectedAt) },
  {
    title: "Expires",
    cell: (s) => (s.connected ? "—" : s.expiresAt === null ? "never" : format.time(s.expiresAt)),
  },
  { title: "Subs", cell: (s) => s.subscriptionsCount, class: "num" },
  { title: "In flight", cell: (s) => s.inflightCount, class: "num" },
  { title: "Queued", cell: (s) => s.queuedCount, class: "num" },
];

export function Sessions() {
  const [clientId, setClientId] = useState("");
  const [connected, setConnected] = useState("");
  const list = useList<Session>("/sessions", { clientId, connected });
  const filtered = clientId !== "" || connected !== "";
  return (
    <ListView
      title="Sessions"
      list={list}
      columns={columns}
      rowKey={(s) => s.clientId}
      empty={filtered ? "no session matches these filters" : "no sessions"}
      filters={<ClientFilters onClientId={setClientId} onConnected={setConnected} />}
    />
  );
}
