/**
 * The Kafka ACL card of the security page: [kafka_acl] rules in evaluation order (config file
 * rules read-only), a form to add one and a button to delete an API rule, as the MQTT ACL card.
 */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import type { Column, ListState } from "../components.tsx";
import {
  Card,
  CardList,
  type Outcome,
  OutcomeBanner,
  Select,
  TextField,
  useOutcome,
} from "../forms.tsx";
import { deleteCell, numbered, positions, type RuleIdentity, useRemove } from "../rule-list.tsx";

export interface KafkaAclRule extends RuleIdentity {
  permission: "allow" | "deny";
  action: "read" | "write" | "admin" | "all";
  topic: string;
  username: string | null;
}

const ABOUT =
  "Which Kafka clients may read, write and administer which topics. Checked in this order; " +
  "the first rule that applies decides. Superusers pass every check.";

const PERMISSIONS = [
  ["allow", "allow"],
  ["deny", "deny"],
] as const;
const ACTIONS = [
  ["read", "read"],
  ["write", "write"],
  ["admin", "admin"],
  ["all", "read, write and admin"],
] as const;

function KafkaAclForm({ list, outcome }: { list: ListState<KafkaAclRule>; outcome: Outcome }) {
  const [permission, setPermission] = useState("allow");
  const [action, setAction] = useState("read");
  const [topic, setTopic] = useState("");
  const [username, setUsername] = useState("");
  const [before, setBefore] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string> = { permission, action, topic: topic.trim() };
    if (username.trim() !== "") body.username = username.trim();
    if (before !== "") body.before = before;
    const added = await outcome.run(async () => {
      const rule = await api<KafkaAclRule>("POST", "/kafka/acl", {}, body);
      return `Added rule ${rule.id}: ${rule.permission} ${rule.action} ${rule.topic}.`;
    });
    if (added) {
      setTopic("");
      setBefore("");
    }
    list.reload();
  };
  return (
    <form class="filters" onSubmit={add}>
      <Select
        label="Permission"
        name="kafka-acl-permission"
        value={permission}
        options={PERMISSIONS}
        onChange={setPermission}
      />
      <Select
        label="Action"
        name="kafka-acl-action"
        value={action}
        options={ACTIONS}
        onChange={setAction}
      />
      <TextField
        label="Topic"
        name="kafka-acl-topic"
        value={topic}
        onInput={setTopic}
        placeholder="orders.*"
        required
      />
      <TextField
        label="User name"
        name="kafka-acl-username"
        value={username}
        onInput={setUsername}
        placeholder="any"
      />
      <Select
        label="Position"
        name="kafka-acl-before"
        value={before}
        options={positions(list, (r) => r.topic)}
        onChange={setBefore}
      />
      <button type="submit" class="primary">
        Add rule
      </button>
    </form>
  );
}

export function KafkaAclCard({ list }: { list: ListState<KafkaAclRule> }) {
  const outcome = useOutcome();
  const describe = (r: KafkaAclRule) => `${r.permission} ${r.action} ${r.topic}`;
  const remove = useRemove("/kafka/acl", "Kafka ACL rule", list, outcome, describe);
  const columns: Column<KafkaAclRule>[] = [
    numbered(list),
    { title: "Id", cell: (r) => <code>{r.id}</code> },
    { title: "Source", cell: (r) => <span class="badge">{r.source}</span> },
    {
      title: "Permission",
      cell: (r) => (
        <span class={`badge ${r.permission === "allow" ? "healthy" : "unreachable"}`}>
          {r.permission}
        </span>
      ),
    },
    { title: "Action", cell: (r) => r.action },
    { title: "Topic", cell: (r) => <code>{r.topic}</code> },
    {
      title: "User",
      cell: (r) =>
        r.username === null ? <span class="muted">any</span> : <code>{r.username}</code>,
    },
    { title: "", cell: deleteCell("kafka_acl", remove) },
  ];
  return (
    <Card section="kafka-acl" title="Kafka ACL rules" about={ABOUT}>
      <KafkaAclForm list={list} outcome={outcome} />
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(r) => r.id}
        empty="no Kafka ACL rules: [kafka_acl] no_match decides for every Kafka client"
      />
    </Card>
  );
}
