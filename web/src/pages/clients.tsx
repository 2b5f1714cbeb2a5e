/** Clients: connected ones and offline sessions; search by client id; kick a connected one. */
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.ts";
import { ClientFilters, type Column, ListView, useList } from "../components.tsx";
import * as format from "../format.ts";

interface Client {
  clientId: string;
  username: string | null;
  connected: boolean;
  remoteAddress: string | null;
  protocolVersion: number | null;
  keepAliveS: number | null;
  connectedAt: string | null;
  disconnectedAt: string | null;
  inflightCount: number;
  queuedCount: number;
  subscriptionsCount: number;
}

async function kick(clientId: string, done: () => void, fail: (message: string) => void) {
  if (!confirm(`Disconnect client "${clientId}"?`)) return;
  try {
    await api("DELETE", `/clients/${encodeURIComponent(clientId)}`);
    done();
  } catch (err) {
    fail(err instanceof ApiError ? err.message : String(err));
  }
}

export function Clients() {
  const [clientId, setClientId] = useState("");
  const [connected, setConnected] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const list = useList<Client>("/clients", { clientId, connected });
  const columns: Column<Client>[] = [
    { title: "Client id", cell: (c) => <code>{c.clientId}</code> },
    {
      title: "Status",
      cell: (c) => (
        <span class={`badge ${c.connected ? "healthy" : "offline"}`}>
          {c.connected ? "connected" : "offline"}
        </span>
      ),
    },
    { title: "User", cell: (c) => c.username ?? "—" },
    { title: "Address", cell: (c) => c.remoteAddress ?? "—" },
    { title: "MQTT", cell: (c) => format.protocol(c.protocolVersion) },
    { title: "Keep alive", cell: (c) => (c.keepAliveS === null ? "—" : `${c.keepAliveS} s`) },
    { title: "Since", cell: (c) => format.time(c.connected ? c.connectedAt : c.disconnectedAt) },
    { title: "Subs", cell: (c) => c.subscriptionsCount, class: "num" },
    { title: "In flight", cell: (c) => c.inflightCount, class: "num" },
    { title: "Queued", cell: (c) => c.queuedCount, class: "num" },
    {
      title: "",
      cell: (c) =>
        c.connected && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              kick(
                c.clientId,
                () => {
                  setNotice(`Client "${c.clientId}" was disconnected.`);
                  list.reload();
                },
                setNotice,
              )
            }
          >
            Kick
          </button>
        ),
    },
  ];
  const filtered = clientId !== "" || connected !== "";
  return (
    <>
      {notice !== null && (
        <div class="banner notice" role="status">
          {notice}
        </div>
      )}
      <ListView
        title="Clients"
        list={list}
        columns={columns}
        rowKey={(c) => c.clientId}
        empty={filtered ? "no client matches these filters" : "no clients connected"}
        filters={<ClientFilters onClientId={setClientId} onConnected={setConnected} />}
      />
    </>
  );
}
