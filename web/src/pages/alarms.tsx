/**
 * Alarms: the watermarks in force (changeable until the next restart), the active alarms and
 * the last cleared ones. Off in the config: the page says so; no broker on the node (404): the
 * page says that instead.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { type Column, DataTable, ErrorBanner } from "../components.tsx";
import * as format from "../format.ts";
import { Card, OutcomeBanner, useOutcome } from "../forms.tsx";
import { type Polled, usePolled } from "../polled.ts";

interface Alarm {
  name: string;
  message: string;
  details: Record<string, number>;
  activatedAt: string;
  deactivatedAt: string | null;
}

const WATERMARKS = [
  ["memory_high_watermark", "Memory high"],
  ["memory_low_watermark", "Memory low"],
  ["cpu_high_watermark", "CPU high"],
  ["cpu_low_watermark", "CPU low"],
] as const;

type WatermarkKey = (typeof WATERMARKS)[number][0];

interface Alarms {
  enabled: boolean;
  watermarks: Record<WatermarkKey, number> | null;
  active: Alarm[];
  history: Alarm[];
}

const WATERMARKS_ABOUT =
  "An alarm activates at its high watermark or above and clears below its low one. Memory is " +
  "a share of the machine's (or cgroup's) memory, CPU a share of one core. A change lasts " +
  "until the next restart.";

const ACTIVE_COLUMNS: Column<Alarm>[] = [
  { title: "Alarm", cell: (a) => <code>{a.name}</code> },
  { title: "Message", cell: (a) => a.message },
  { title: "Since", cell: (a) => format.time(a.activatedAt) },
];

const HISTORY_COLUMNS: Column<Alarm>[] = [
  ...ACTIVE_COLUMNS.slice(0, 2),
  { title: "Activated", cell: (a) => format.time(a.activatedAt) },
  { title: "Cleared", cell: (a) => format.time(a.deactivatedAt) },
];

/** The typed watermarks, as numbers; an empty field keeps its value (left out of the body). */
function thresholdsBody(
  fields: Record<WatermarkKey, string>,
): Partial<Record<WatermarkKey, number>> {
  const body: Partial<Record<WatermarkKey, number>> = {};
  for (const [key] of WATERMARKS) {
    const text = fields[key].trim();
    if (text !== "") body[key] = Number(text);
  }
  return body;
}

const NO_FIELDS: Record<WatermarkKey, string> = {
  memory_high_watermark: "",
  memory_low_watermark: "",
  cpu_high_watermark: "",
  cpu_low_watermark: "",
};

function WatermarksCard({ alarms }: { alarms: Polled<Alarms> }) {
  const outcome = useOutcome();
  const [fields, setFields] = useState(NO_FIELDS);
  const current = alarms.data?.watermarks ?? null;
  const submit = async (event: Event) => {
    event.preventDefault();
    const body = thresholdsBody(fields);
    const changed = await outcome.run(async () => {
      const state = await api<Alarms>("PUT", "/alarms/thresholds", {}, body);
      alarms.replace(state);
      const what = Object.entries(body).map(([key, value]) => `${key} = ${value}`);
      return `Watermarks changed: ${what.join(", ")}.`;
    });
    if (changed) setFields(NO_FIELDS);
  };
  return (
    <Card section="watermarks" title="Watermarks" about={WATERMARKS_ABOUT}>
      <form class="filters" onSubmit={submit}>
        {WATERMARKS.map(([key, label]) => (
          <label key={key}>
            {label}
            <input
              type="text"
              inputMode="decimal"
              name={key}
              value={fields[key]}
              placeholder={current === null ? "" : String(current[key])}
              onInput={(e) => setFields({ ...fields, [key]: e.currentTarget.value })}
            />
          </label>
        ))}
        <button type="submit" class="primary">
          Change
        </button>
      </form>
      <OutcomeBanner outcome={outcome} />
      {current !== null && (
        <dl data-field="watermarks">
          {WATERMARKS.map(([key, label]) => [
            <dt key={`${key}-label`}>{label}</dt>,
            <dd key={key} data-watermark={key}>
              {current[key]} ({Math.round(current[key] * 1000) / 10}%)
            </dd>,
          ])}
        </dl>
      )}
    </Card>
  );
}

export function AlarmsPage() {
  const alarms = usePolled<Alarms>("/alarms");
  const { data, error, off } = alarms;
  let body: ComponentChildren;
  if (off) {
    body = (
      <div class="empty" data-state="unavailable">
        Alarms are not available on this node: it runs no MQTT broker.
      </div>
    );
  } else if (data === null) {
    body = error === null && <div class="empty">Loading…</div>;
  } else if (!data.enabled) {
    body = (
      <div class="empty" data-state="disabled">
        Alarms are off on this node ([mqtt_alarms] enable = false): memory and CPU are not watched.
      </div>
    );
  } else {
    body = (
      <>
        <Card section="active-alarms" title="Active" about="Alarms raised and not cleared yet.">
          <DataTable
            columns={ACTIVE_COLUMNS}
            rows={data.active}
            rowKey={(a) => `${a.name}@${a.activatedAt}`}
            empty="no active alarms"
          />
        </Card>
        <WatermarksCard alarms={alarms} />
        <Card section="alarm-history" title="History" about="The last 100 cleared, newest first.">
          <DataTable
            columns={HISTORY_COLUMNS}
            rows={data.history}
            rowKey={(a) => `${a.name}@${a.activatedAt}`}
            empty="no alarm has cleared since the node started"
          />
        </Card>
      </>
    );
  }
  return (
    <section>
      <h1>Alarms</h1>
      <ErrorBanner error={error} />
      {body}
    </section>
  );
}
