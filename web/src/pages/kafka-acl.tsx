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
import {
  deleteCell,
  numbered,
  PERMISSIONS,
  positions,
  type RuleIdentity,
  sourceAndPermission,
  useRemove,
} from "../rule-list.tsx";

export interface KafkaAclRule extends RuleIdentity {
  permission: "allow" | "deny";
  action: "read" | "write" | "admin" | "all";
  topic: string | null;
  group: string | null;
  username: string | null;
}

const ABOUT =
  "Which Kafka clients may read, write and administer which topics and consumer groups. " +
  "Checked in this order; " +
  "the first rule that applies decides. Superusers pass every check.";

const RESOURCES = [
  ["topic", "topic"],
  ["group", "consumer group"],
] as const;

/** "topic orders.*" or "group reporting-*": a rule names one of the two. */
function resourceOf(rule: KafkaAclRule): string {
  return rule.topic === null ? `group ${rule.group ?? ""}` : `topic ${rule.topic}`;
}

const ACTIONS = [
  ["read", "read"],
  ["write", "write"],
  ["admin", "admin"],
  ["all", "read, write and admin"],
] as const;

function KafkaAclForm({ list, outcome }: { list: ListState<KafkaAclRule>; outcome: Outcome }) {
  const [permission, setPermission] = useState("allow");
  const [action, setAction] = useState("read");
  const [resource, setResource] = useState("topic");
  const [name, setName] = useState("");
  const [username, setUsername] = useState("");
  const [before, setBefore] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string> = { permission, action, [resource]: name.trim() };
    if (username.trim() !== "") body.username = username.trim();
    if (before !== "") body.before = before;
    const added = await outcome.run(async () => {
      const rule = await api<KafkaAclRule>("POST", "/kafka/acl", {}, body);
      return `Added rule ${rule.id}: ${rule.permission} ${rule.action} ${resourceOf(rule)}.`;
    });
    if (added) {
      setName("");
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
        options={resource === "topic" ? ACTIONS : ACTIONS.filter(([value]) => value !== "write")}
        onChange={setAction}
      />
      <Select
        label="On"
        name="kafka-acl-resource"
        value={resource}
        options={RESOURCES}
        onChange={(value) => {
          setResource(value);
          // Nothing is written to a group: a group rule reads or administers.
          if (value === "group" && action === "write") setAction("read");
        }}
      />
      <TextField
        label={resource === "topic" ? "Topic" : "Group"}
        name="kafka-acl-name"
        value={name}
        onInput={setName}
        placeholder={resource === "topic" ? "orders.*" : "reporting-*"}
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
        options={positions(list, resourceOf)}
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
  const describe = (r: KafkaAclRule) => `${r.permission} ${r.action} ${resourceOf(r)}`;
  const remove = useRemove("/kafka/acl", "Kafka ACL rule", list, outcome, describe);
  const columns: Column<KafkaAclRule>[] = [
    numbered(list),
    { title: "Id", cell: (r) => <code>{r.id}</code> },
    ...sourceAndPermission<KafkaAclRule>(),
    { title: "Action", cell: (r) => r.action },
    {
      title: "Topic or group",
      cell: (r) => (
        <>
          <span class="muted">{r.topic === null ? "group" : "topic"}</span>{" "}
          <code>{r.topic ?? r.group}</code>
        </>
      ),
    },
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
