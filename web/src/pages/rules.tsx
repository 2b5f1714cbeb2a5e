/**
 * Topic rules: topic rewrite and auto-subscribe rules (config file rules first and read-only,
 * then the API's, each with a form to add one and a button to delete one), and the payload
 * schema validation rules (read-only: they come from the config file). A node without a broker
 * answers 404 for these routes, and the page says so.
 */
import { type Column, DataTable, ErrorBanner, useList } from "../components.tsx";
import { Card } from "../forms.tsx";
import { usePolled } from "../polled.ts";
import {
  AutoSubscribeCard,
  type AutoSubscribeRule,
  RewriteCard,
  type RewriteRule,
} from "./rule-cards.tsx";

interface SchemaRule {
  index: number;
  topic: string;
  source: "file" | "inline";
  schemaFile: string | null;
}

interface SchemaRules {
  enabled: boolean;
  rules: SchemaRule[];
}

const SCHEMA_ABOUT =
  "PUBLISH payloads on these topic filters must match their JSON schema, tried in this " +
  "order. They come from [mqtt_schema_validation] in the config file: read-only here.";

const SCHEMA_COLUMNS: Column<SchemaRule>[] = [
  { title: "#", cell: (r) => r.index + 1, class: "num" },
  { title: "Topic filter", cell: (r) => <code>{r.topic}</code> },
  {
    title: "Schema",
    cell: (r) => (r.schemaFile === null ? "inline" : <code>{r.schemaFile}</code>),
  },
];

function SchemaCard() {
  const { data, error } = usePolled<SchemaRules>("/schema-validation");
  return (
    <Card section="schema-validation" title="Schema validation" about={SCHEMA_ABOUT}>
      <ErrorBanner error={error} />
      {data === null ? (
        error === null && <div class="empty">Loading…</div>
      ) : (
        <DataTable
          columns={SCHEMA_COLUMNS}
          rows={data.rules}
          rowKey={(r) => String(r.index)}
          empty="no schema validation rules: payloads are not checked"
        />
      )}
    </Card>
  );
}

export function RulesPage() {
  const rewrite = useList<RewriteRule>("/topic-rewrite", {});
  const autoSubscribe = useList<AutoSubscribeRule>("/auto-subscribe", {});
  if (rewrite.error?.status === 404) {
    return (
      <section>
        <h1>Topic rules</h1>
        <div class="empty" data-state="unavailable">
          Topic rewrite, auto-subscribe and schema validation rules are not available on this node:
          it runs no MQTT broker.
        </div>
      </section>
    );
  }
  return (
    <section>
      <h1>Topic rules</h1>
      <RewriteCard list={rewrite} />
      <AutoSubscribeCard list={autoSubscribe} />
      <SchemaCard />
    </section>
  );
}
