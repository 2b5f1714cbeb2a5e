/**
 * Topics: every subscribed topic filter with how many subscribers it reaches (share groups by
 * members) and whether a retained message sits on it. Searching by a topic name lists the
 * filters a publish on it would reach: "who gets this message?".
 */
import { useState } from "preact/hooks";
import { type Column, ListView, SearchInput, useList } from "../components.tsx";
import * as format from "../format.ts";

interface Topic {
  filter: string;
  wildcard: boolean;
  subscribers: number;
  directSubscribers: number;
  shareGroups: Array<{ group: string; members: number }>;
  retained: boolean | null;
}

const columns: Column<Topic>[] = [
  { title: "Filter", cell: (t) => <code>{t.filter}</code> },
  { title: "Subscribers", cell: (t) => format.count(t.subscribers), class: "num" },
  { title: "Direct", cell: (t) => format.count(t.directSubscribers), class: "num" },
  {
    title: "Share groups",
    cell: (t) =>
      t.shareGroups.length === 0
        ? "—"
        : t.shareGroups.map((g) => `${g.group} (${format.count(g.members)})`).join(", "),
  },
  {
    title: "Retained",
    cell: (t) => (t.retained === null ? "— (wildcard)" : t.retained ? "yes" : "no"),
  },
];

function emptyText(match: string, filter: string): string {
  if (match !== "") return `no subscription reaches topic ${match}`;
  if (filter !== "") return `no subscribed filter contains "${filter}"`;
  return "no subscriptions";
}

export function Topics() {
  const [match, setMatch] = useState("");
  const [filter, setFilter] = useState("");
  const list = useList<Topic>("/topics", { match, filter });
  return (
    <ListView
      title="Topics"
      list={list}
      columns={columns}
      rowKey={(t) => t.filter}
      empty={emptyText(match, filter)}
      filters={
        <>
          <SearchInput
            label="Published on topic"
            name="match"
            placeholder="topic name, e.g. sensors/1/temp"
            onSearch={setMatch}
          />
          <SearchInput
            label="Filter contains"
            name="filter"
            placeholder="text, e.g. sensors"
            onSearch={setFilter}
          />
        </>
      }
    />
  );
}
