/**
 * Slow subscriptions: the slowest (client id, topic) pairs, slowest first, with a button to
 * forget them all. Off in the config: the page says so; no broker on the node (404): that.
 */
import type { ComponentChildren } from "preact";
import { api } from "../api.ts";
import { type Column, DataTable, ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";
import { OutcomeBanner, useOutcome } from "../forms.tsx";
import { usePolled } from "../polled.ts";

interface SlowSub {
  clientId: string;
  topic: string;
  latencyMs: number;
  latencyMsMax: number;
  count: number;
  lastSeenAt: string;
}

interface SlowSubs {
  enabled: boolean;
  thresholdMs: number;
  topK: number;
  data: SlowSub[];
}

const COLUMNS: Column<SlowSub>[] = [
  { title: "Client id", cell: (s) => <code>{s.clientId}</code> },
  { title: "Topic", cell: (s) => <code>{s.topic}</code> },
  { title: "Highest (ms)", cell: (s) => format.count(s.latencyMsMax), class: "num" },
  { title: "Latest (ms)", cell: (s) => format.count(s.latencyMs), class: "num" },
  { title: "Slow deliveries", cell: (s) => format.count(s.count), class: "num" },
  { title: "Last seen", cell: (s) => format.time(s.lastSeenAt) },
];

function SlowTable({ slow, reload }: { slow: SlowSubs; reload(): void }) {
  const outcome = useOutcome();
  const clear = async () => {
    if (!confirm("Forget every recorded slow subscription?")) return;
    await outcome.run(async () => {
      const { cleared } = await api<{ cleared: number }>("DELETE", "/slow-subscriptions");
      return `Forgot ${cleared === 1 ? "1 slow subscription" : `${cleared} slow subscriptions`}.`;
    });
    reload();
  };
  return (
    <>
      <p class="muted page-about" data-field="settings">
        Deliveries of QoS 1 and 2 messages that took {format.count(slow.thresholdMs)} ms or more
        from receipt to the subscriber's acknowledgement; the {slow.topK} slowest pairs are kept.
      </p>
      <div class="filters">
        <button type="button" onClick={reload}>
          Refresh
        </button>
        <button type="button" class="danger" onClick={clear} disabled={slow.data.length === 0}>
          Clear all
        </button>
      </div>
      <OutcomeBanner outcome={outcome} />
      <DataTable
        columns={COLUMNS}
        rows={slow.data}
        rowKey={(s) => `${s.clientId} ${s.topic}`}
        empty={`no slow subscriptions: no delivery took ${slow.thresholdMs} ms or more`}
      />
    </>
  );
}

export function SlowSubsPage() {
  const { data, error, off, reload } = usePolled<SlowSubs>("/slow-subscriptions");
  let body: ComponentChildren;
  if (off) {
    body = (
      <div class="empty" data-state="unavailable">
        Slow subscriptions are not available on this node: it runs no MQTT broker.
      </div>
    );
  } else if (data === null) {
    body = error === null && <div class="empty">Loading…</div>;
  } else if (!data.enabled) {
    body = (
      <div class="empty" data-state="disabled">
        Slow subscription statistics are off on this node ([mqtt_slow_subs] enable = false).
      </div>
    );
  } else {
    body = <SlowTable slow={data} reload={reload} />;
  }
  return (
    <section>
      <h1>Slow subscriptions</h1>
      <ErrorBanner error={error} />
      {body}
    </section>
  );
}
