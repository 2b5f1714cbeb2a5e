/**
 * Security: built-in users, MQTT and Kafka ACL rules (in evaluation order; config file rules
 * read-only) and bans, each with a small form to add one and a button to delete one. A node without the
 * security layer answers 404 for its routes, and the page says so instead.
 */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { type Column, type ListState, useList } from "../components.tsx";
import * as format from "../format.ts";
import {
  Card,
  CardList,
  DeleteButton,
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
import { KafkaAclCard, type KafkaAclRule } from "./kafka-acl.tsx";

interface User {
  username: string;
  superuser: boolean;
  createdAt: string;
}

interface AclRule extends RuleIdentity {
  permission: "allow" | "deny";
  action: "publish" | "subscribe" | "all";
  topic: string;
  username: string | null;
  client_id: string | null;
  ip: string | null;
}

interface Ban {
  kind: "client_id" | "username" | "ip";
  value: string;
  reason: string;
  createdAt: string;
  expiresAt: string | null;
}

const USERS_ABOUT =
  "Built-in users for MQTT clients (authenticator built_in). " +
  "Passwords are stored hashed and never shown.";

const ACL_ABOUT =
  "Checked in this order; the first rule that applies decides. " +
  "Rules from the config file come first and are read-only here.";

const BANS_ABOUT =
  "Banned clients are refused at CONNECT; a " + "new ban also disconnects the clients it covers.";

function UsersCard({ list }: { list: ListState<User> }) {
  const outcome = useOutcome();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [superuser, setSuperuser] = useState(false);
  const add = async (event: Event) => {
    event.preventDefault();
    const added = await outcome.run(async () => {
      await api("POST", "/users", {}, { username, password, superuser });
      return `Added user "${username}".`;
    });
    if (added) {
      setUsername("");
      setPassword("");
      setSuperuser(false);
    }
    list.reload();
  };
  const remove = async (user: User) => {
    if (!confirm(`Delete user "${user.username}"?`)) return;
    await outcome.run(async () => {
      await api("DELETE", `/users/${encodeURIComponent(user.username)}`);
      return `Deleted user "${user.username}".`;
    });
    list.reload();
  };
  const columns: Column<User>[] = [
    { title: "User name", cell: (u) => <code>{u.username}</code> },
    {
      title: "Superuser",
      cell: (u) => (u.superuser ? <span class="badge healthy">superuser</span> : "—"),
    },
    { title: "Created", cell: (u) => format.time(u.createdAt) },
    { title: "", cell: (u) => <DeleteButton label="Delete" onClick={() => remove(u)} /> },
  ];
  return (
    <Card section="users" title="Users" about={USERS_ABOUT}>
      <form class="filters" onSubmit={add}>
        <TextField
          label="User name"
          name="user-username"
          value={username}
          onInput={setUsername}
          required
        />
        <TextField
          label="Password"
          name="user-password"
          kind="password"
          value={password}
          onInput={setPassword}
          required
        />
        <label class="check">
          <input
            type="checkbox"
            name="user-superuser"
            checked={superuser}
            onChange={(e) => setSuperuser(e.currentTarget.checked)}
          />
          Superuser
        </label>
        <button type="submit" class="primary">
          Add user
        </button>
      </form>
      <OutcomeBanner outcome={outcome} />
      <CardList list={list} columns={columns} rowKey={(u) => u.username} empty="no users yet" />
    </Card>
  );
}

const ACTIONS = [
  ["publish", "publish"],
  ["subscribe", "subscribe"],
  ["all", "publish and subscribe"],
] as const;

/** The new rule's fields as typed; empty matchers are left out (they match anyone). */
function aclBody(fields: Record<string, string>): Record<string, string> {
  const body: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value.trim() !== "") body[key] = value.trim();
  }
  return body;
}

function AclForm({ list, outcome }: { list: ListState<AclRule>; outcome: Outcome }) {
  const [permission, setPermission] = useState("allow");
  const [action, setAction] = useState("publish");
  const [topic, setTopic] = useState("");
  const [username, setUsername] = useState("");
  const [clientId, setClientId] = useState("");
  const [ip, setIp] = useState("");
  const [before, setBefore] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const fields = { topic, username, client_id: clientId, ip, before };
    const added = await outcome.run(async () => {
      const rule = await api<AclRule>(
        "POST",
        "/acl",
        {},
        { permission, action, ...aclBody(fields) },
      );
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
        name="acl-permission"
        value={permission}
        options={PERMISSIONS}
        onChange={setPermission}
      />
      <Select
        label="Action"
        name="acl-action"
        value={action}
        options={ACTIONS}
        onChange={setAction}
      />
      <TextField
        label="Topic filter"
        name="acl-topic"
        value={topic}
        onInput={setTopic}
        placeholder="sensors/%u/#"
        required
      />
      <TextField
        label="User name"
        name="acl-username"
        value={username}
        onInput={setUsername}
        placeholder="any"
      />
      <TextField
        label="Client id"
        name="acl-client-id"
        value={clientId}
        onInput={setClientId}
        placeholder="any"
      />
      <TextField label="IP or CIDR" name="acl-ip" value={ip} onInput={setIp} placeholder="any" />
      <Select
        label="Position"
        name="acl-before"
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

function AclCard({ list }: { list: ListState<AclRule> }) {
  const outcome = useOutcome();
  const describe = (r: AclRule) => `${r.permission} ${r.action} ${r.topic}`;
  const remove = useRemove("/acl", "ACL rule", list, outcome, describe);
  const anyone = (value: string | null) =>
    value === null ? <span class="muted">any</span> : <code>{value}</code>;
  const columns: Column<AclRule>[] = [
    numbered(list),
    { title: "Id", cell: (r) => <code>{r.id}</code> },
    ...sourceAndPermission<AclRule>(),
    { title: "Action", cell: (r) => r.action },
    { title: "Topic", cell: (r) => <code>{r.topic}</code> },
    { title: "User", cell: (r) => anyone(r.username) },
    { title: "Client id", cell: (r) => anyone(r.client_id) },
    { title: "IP", cell: (r) => anyone(r.ip) },
    { title: "", cell: deleteCell("mqtt_acl", remove) },
  ];
  return (
    <Card section="acl" title="ACL rules" about={ACL_ABOUT}>
      <AclForm list={list} outcome={outcome} />
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(r) => r.id}
        empty="no ACL rules: [mqtt_acl] no_match decides for every client"
      />
    </Card>
  );
}

const BAN_KINDS = [
  ["client_id", "client id"],
  ["username", "user name"],
  ["ip", "IP or CIDR"],
] as const;

function BanForm({ list, outcome }: { list: ListState<Ban>; outcome: Outcome }) {
  const [kind, setKind] = useState("client_id");
  const [value, setValue] = useState("");
  const [duration, setDuration] = useState("");
  const [reason, setReason] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string | number> = { kind, value: value.trim() };
    if (duration.trim() !== "") body.duration_s = Number(duration);
    if (reason.trim() !== "") body.reason = reason.trim();
    const added = await outcome.run(async () => {
      const reply = await api<{ ban: Ban; kicked: number }>("POST", "/banned", {}, body);
      const kicked = reply.kicked === 1 ? "1 client" : `${reply.kicked} clients`;
      return `Banned ${reply.ban.kind} "${reply.ban.value}"; ${kicked} disconnected.`;
    });
    if (added) {
      setValue("");
      setReason("");
    }
    list.reload();
  };
  return (
    <form class="filters" onSubmit={add}>
      <Select label="Kind" name="ban-kind" value={kind} options={BAN_KINDS} onChange={setKind} />
      <TextField
        label="Value"
        name="ban-value"
        value={value}
        onInput={setValue}
        placeholder="client id, user name, 10.0.0.0/8"
        required
      />
      <TextField
        label="Duration (s)"
        name="ban-duration"
        kind="seconds"
        value={duration}
        onInput={setDuration}
        placeholder="forever"
      />
      <TextField
        label="Reason"
        name="ban-reason"
        value={reason}
        onInput={setReason}
        placeholder="optional"
      />
      <button type="submit" class="primary">
        Ban
      </button>
    </form>
  );
}

function BansCard({ list }: { list: ListState<Ban> }) {
  const outcome = useOutcome();
  const lift = async (ban: Ban) => {
    if (!confirm(`Lift the ban on ${ban.kind} "${ban.value}"?`)) return;
    await outcome.run(async () => {
      await api("DELETE", `/banned/${ban.kind}/${encodeURIComponent(ban.value)}`);
      return `Lifted the ban on ${ban.kind} "${ban.value}".`;
    });
    list.reload();
  };
  const columns: Column<Ban>[] = [
    { title: "Kind", cell: (b) => b.kind },
    { title: "Value", cell: (b) => <code>{b.value}</code> },
    { title: "Reason", cell: (b) => (b.reason === "" ? "—" : b.reason) },
    { title: "Since", cell: (b) => format.time(b.createdAt) },
    { title: "Expires", cell: (b) => (b.expiresAt === null ? "never" : format.time(b.expiresAt)) },
    { title: "", cell: (b) => <DeleteButton label="Lift" onClick={() => lift(b)} /> },
  ];
  return (
    <Card section="bans" title="Bans" about={BANS_ABOUT}>
      <BanForm list={list} outcome={outcome} />
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(b) => `${b.kind}:${b.value}`}
        empty="nobody is banned"
      />
    </Card>
  );
}

export function SecurityPage() {
  const users = useList<User>("/users", {});
  const acl = useList<AclRule>("/acl", {});
  const bans = useList<Ban>("/banned", {});
  const kafkaAcl = useList<KafkaAclRule>("/kafka/acl", {});
  if (users.error?.status === 404) {
    return (
      <section>
        <h1>Security</h1>
        <div class="empty" data-state="unavailable">
          Users, ACL rules and bans are not available on this node: it runs no MQTT broker, so it
          has no security layer.
        </div>
      </section>
    );
  }
  return (
    <section>
      <h1>Security</h1>
      <UsersCard list={users} />
      <AclCard list={acl} />
      <KafkaAclCard list={kafkaAcl} />
      <BansCard list={bans} />
    </section>
  );
}
