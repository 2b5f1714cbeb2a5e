/**
 * Cluster: the nodes and their roles. The admin API knows only the node it runs on
 * (GET /api/v1/node): no membership list, no Raft status. The page shows that node and says
 * plainly that others are not listed, rather than implying a one-node cluster.
 */
import { type Column, DataTable, ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";
import { Card } from "../forms.tsx";
import { usePolled } from "../polled.ts";

interface NodeInfo {
  clusterName: string;
  brokerId: number;
  roles: string[];
  version: string;
  startedAt: string;
  uptimeS: number;
  listeners: Record<string, { host: string; port: number }>;
}

/** What each role does (docs/configuration.md, `roles`). */
const ROLES: ReadonlyArray<readonly [role: string, does: string]> = [
  ["meta", "keeps the cluster's metadata (Raft)"],
  ["broker", "speaks MQTT (and Kafka, when enabled) to clients"],
  ["engine", "stores messages in the segmented log"],
];

const ABOUT_MEMBERSHIP =
  "The admin API reports only the node that serves it: it exposes no list of cluster members " +
  "and no Raft status (leader, term, peers). Other nodes of this cluster are therefore not " +
  "listed; open their own dashboards to see them.";

function nodeColumns(healthy: boolean): Column<NodeInfo>[] {
  return [
    {
      title: "Broker id",
      cell: (n) => (
        <>
          {n.brokerId} <span class="badge">this node</span>
        </>
      ),
    },
    {
      title: "Roles",
      cell: (n) => (
        <span data-field="roles">
          {n.roles.map((r) => (
            <span key={r} class="badge role" data-role={r}>
              {r}
            </span>
          ))}
        </span>
      ),
    },
    { title: "Version", cell: (n) => n.version },
    { title: "Started", cell: (n) => format.time(n.startedAt) },
    { title: "Uptime", cell: (n) => format.duration(n.uptimeS) },
    {
      title: "Listeners",
      class: "stacked",
      cell: (n) =>
        Object.entries(n.listeners).map(([name, l]) => (
          <div key={name}>
            {name} <code>{`${l.host}:${l.port}`}</code>
          </div>
        )),
    },
    {
      title: "Status",
      cell: () => (
        <span class={`badge ${healthy ? "healthy" : "unreachable"}`}>
          {healthy ? "healthy" : "unreachable"}
        </span>
      ),
    },
  ];
}

function RolesCard({ node }: { node: NodeInfo }) {
  return (
    <Card
      section="roles"
      title="Roles on this node"
      about="One program runs any mix of the three roles (the roles setting)."
    >
      <dl>
        {ROLES.map(([role, does]) => {
          const runs = node.roles.includes(role);
          return [
            <dt key={`${role}-name`}>
              <code>{role}</code>
            </dt>,
            <dd key={role} data-role-state={role}>
              <span class={runs ? "badge healthy" : "badge"}>{runs ? "runs here" : "off"}</span>
              {` ${does}`}
            </dd>,
          ];
        })}
      </dl>
    </Card>
  );
}

export function ClusterPage() {
  const { data, error } = usePolled<NodeInfo>("/node");
  return (
    <section>
      <h1>Cluster</h1>
      <ErrorBanner error={error} />
      {data === null ? (
        error === null && <div class="empty">Loading…</div>
      ) : (
        <>
          <Card
            section="nodes"
            title={`Nodes of cluster "${data.clusterName}"`}
            about={ABOUT_MEMBERSHIP}
          >
            <DataTable
              columns={nodeColumns(error === null)}
              rows={[data]}
              rowKey={(n) => String(n.brokerId)}
              empty="no node"
            />
          </Card>
          <RolesCard node={data} />
        </>
      )}
    </section>
  );
}
