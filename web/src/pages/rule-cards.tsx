/**
 * The topic rewrite and auto-subscribe cards of the Topic rules page: each lists its rules in
 * evaluation order (config file rules read-only), adds one through a small form (the API's 400
 * says what is wrong: a regex that does not compile, a `$2` the regex lacks, a bad filter) and
 * deletes an API rule.
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

export interface RewriteRule extends RuleIdentity {
  action: "publish" | "subscribe" | "all";
  source_topic: string;
  re: string;
  dest_topic: string;
}

export interface AutoSubscribeRule extends RuleIdentity {
  topic: string;
  qos: 0 | 1 | 2;
  no_local: boolean;
  retain_as_published: boolean;
  retain_handling: 0 | 1 | 2;
}

const REWRITE_ABOUT =
  "The first rule whose action covers the packet, whose source filter matches the topic and " +
  "whose expression matches it too rewrites the topic to its destination ($1…$9: the groups).";
const AUTO_SUBSCRIBE_ABOUT =
  "Subscriptions every client gets right after its CONNACK (%c and %u stand for its client " +
  "id and user name); a new rule applies to clients that connect after it.";

const REWRITE_ACTIONS = [
  ["all", "publish and subscribe"],
  ["publish", "publish"],
  ["subscribe", "subscribe"],
] as const;
const LEVELS = [
  ["0", "0"],
  ["1", "1"],
  ["2", "2"],
] as const;
const RETAIN_HANDLING = [
  ["0", "0: send retained"],
  ["1", "1: only if new"],
  ["2", "2: never"],
] as const;

function RewriteForm({ list, outcome }: { list: ListState<RewriteRule>; outcome: Outcome }) {
  const [action, setAction] = useState("all");
  const [sourceTopic, setSourceTopic] = useState("");
  const [re, setRe] = useState("");
  const [destTopic, setDestTopic] = useState("");
  const [before, setBefore] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string> = {
      action,
      source_topic: sourceTopic.trim(),
      re,
      dest_topic: destTopic.trim(),
    };
    if (before !== "") body.before = before;
    const added = await outcome.run(async () => {
      const rule = await api<RewriteRule>("POST", "/topic-rewrite", {}, body);
      return `Added rule ${rule.id}: ${rule.source_topic} ${rule.re} → ${rule.dest_topic}.`;
    });
    if (added) {
      setSourceTopic("");
      setRe("");
      setDestTopic("");
      setBefore("");
    }
    list.reload();
  };
  return (
    <form class="filters" onSubmit={add}>
      <Select
        label="Action"
        name="rewrite-action"
        value={action}
        options={REWRITE_ACTIONS}
        onChange={setAction}
      />
      <TextField
        label="Source topic filter"
        name="rewrite-source-topic"
        value={sourceTopic}
        onInput={setSourceTopic}
        placeholder="old/#"
        required
      />
      <TextField
        label="Regular expression"
        name="rewrite-re"
        value={re}
        onInput={setRe}
        placeholder="^old/(.+)$"
        required
      />
      <TextField
        label="Destination"
        name="rewrite-dest-topic"
        value={destTopic}
        onInput={setDestTopic}
        placeholder="new/$1"
        required
      />
      <Select
        label="Position"
        name="rewrite-before"
        value={before}
        options={positions(list, (r) => r.source_topic)}
        onChange={setBefore}
      />
      <button type="submit" class="primary">
        Add rule
      </button>
    </form>
  );
}

export function RewriteCard({ list }: { list: ListState<RewriteRule> }) {
  const outcome = useOutcome();
  const remove = useRemove("/topic-rewrite", "topic rewrite rule", list, outcome);
  const columns: Column<RewriteRule>[] = [
    numbered(list),
    { title: "Id", cell: (r) => <code>{r.id}</code> },
    { title: "Source", cell: (r) => <span class="badge">{r.source}</span> },
    { title: "Action", cell: (r) => r.action },
    { title: "Source topic", cell: (r) => <code>{r.source_topic}</code> },
    { title: "Expression", cell: (r) => <code>{r.re}</code> },
    { title: "Destination", cell: (r) => <code>{r.dest_topic}</code> },
    { title: "", cell: deleteCell("mqtt_topic_rewrite", remove) },
  ];
  return (
    <Card section="topic-rewrite" title="Topic rewrite" about={REWRITE_ABOUT}>
      <RewriteForm list={list} outcome={outcome} />
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(r) => r.id}
        empty="no topic rewrite rules: topics are used as published"
      />
    </Card>
  );
}

function AutoSubscribeForm(props: { list: ListState<AutoSubscribeRule>; outcome: Outcome }) {
  const [topic, setTopic] = useState("");
  const [qos, setQos] = useState("0");
  const [noLocal, setNoLocal] = useState(false);
  const [retainAsPublished, setRetainAsPublished] = useState(false);
  const [retainHandling, setRetainHandling] = useState("0");
  const [before, setBefore] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string | number | boolean> = {
      topic: topic.trim(),
      qos: Number(qos),
      no_local: noLocal,
      retain_as_published: retainAsPublished,
      retain_handling: Number(retainHandling),
    };
    if (before !== "") body.before = before;
    const added = await props.outcome.run(async () => {
      const rule = await api<AutoSubscribeRule>("POST", "/auto-subscribe", {}, body);
      return `Added rule ${rule.id}: ${rule.topic} (QoS ${rule.qos}).`;
    });
    if (added) {
      setTopic("");
      setBefore("");
    }
    props.list.reload();
  };
  const check = (name: string, label: string, on: boolean, set: (value: boolean) => void) => (
    <label class="check">
      <input
        type="checkbox"
        name={name}
        checked={on}
        onChange={(e) => set(e.currentTarget.checked)}
      />
      {label}
    </label>
  );
  return (
    <form class="filters" onSubmit={add}>
      <TextField
        label="Topic filter"
        name="auto-topic"
        value={topic}
        onInput={setTopic}
        placeholder="devices/%c/cmd"
        required
      />
      <Select label="QoS" name="auto-qos" value={qos} options={LEVELS} onChange={setQos} />
      <Select
        label="Retain handling"
        name="auto-retain-handling"
        value={retainHandling}
        options={RETAIN_HANDLING}
        onChange={setRetainHandling}
      />
      {check("auto-no-local", "No Local", noLocal, setNoLocal)}
      {check("auto-rap", "Retain As Published", retainAsPublished, setRetainAsPublished)}
      <Select
        label="Position"
        name="auto-before"
        value={before}
        options={positions(props.list, (r) => r.topic)}
        onChange={setBefore}
      />
      <button type="submit" class="primary">
        Add rule
      </button>
    </form>
  );
}

export function AutoSubscribeCard({ list }: { list: ListState<AutoSubscribeRule> }) {
  const outcome = useOutcome();
  const remove = useRemove("/auto-subscribe", "auto-subscribe rule", list, outcome);
  const flag = (on: boolean) => (on ? "yes" : "no");
  const columns: Column<AutoSubscribeRule>[] = [
    numbered(list),
    { title: "Id", cell: (r) => <code>{r.id}</code> },
    { title: "Source", cell: (r) => <span class="badge">{r.source}</span> },
    { title: "Topic filter", cell: (r) => <code>{r.topic}</code> },
    { title: "QoS", cell: (r) => r.qos, class: "num" },
    { title: "No Local", cell: (r) => flag(r.no_local) },
    { title: "Retain As Published", cell: (r) => flag(r.retain_as_published) },
    { title: "Retain handling", cell: (r) => r.retain_handling, class: "num" },
    { title: "", cell: deleteCell("mqtt_auto_subscribe", remove) },
  ];
  return (
    <Card section="auto-subscribe" title="Auto-subscribe" about={AUTO_SUBSCRIBE_ABOUT}>
      <AutoSubscribeForm list={list} outcome={outcome} />
      <OutcomeBanner outcome={outcome} />
      <CardList
        list={list}
        columns={columns}
        rowKey={(r) => r.id}
        empty="no auto-subscribe rules: clients subscribe themselves"
      />
    </Card>
  );
}
