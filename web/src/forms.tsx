/** Pieces of the pages that change things: small forms, their outcome, a card with a list. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "./api.ts";
import { type Column, DataTable, ErrorBanner, type ListState, Pager } from "./components.tsx";

export interface Outcome {
  notice: string | null;
  error: ApiError | null;
  /** Runs a change; the notice is what it returns. False when the API refused it. */
  run(work: () => Promise<string>): Promise<boolean>;
}

/** A card's last change: a notice when it worked, the API's refusal when not. */
export function useOutcome(): Outcome {
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (work: () => Promise<string>): Promise<boolean> => {
    try {
      setNotice(await work());
      setError(null);
      return true;
    } catch (err) {
      setNotice(null);
      setError(err instanceof ApiError ? err : new ApiError(0, "ERROR", String(err)));
      return false;
    }
  };
  return { notice, error, run };
}

export function OutcomeBanner({ outcome }: { outcome: Outcome }) {
  return (
    <>
      {outcome.notice !== null && (
        <div class="banner notice" role="status">
          {outcome.notice}
        </div>
      )}
      <ErrorBanner error={outcome.error} />
    </>
  );
}

/** The list part of a card: its load error, the table (or loading / empty), the pager. */
export function CardList<T>(props: {
  list: ListState<T>;
  columns: Column<T>[];
  rowKey(row: T): string;
  empty: string;
}) {
  const { list } = props;
  return (
    <>
      <ErrorBanner error={list.error} />
      {list.page === null ? (
        list.error === null && <div class="empty">Loading…</div>
      ) : (
        <DataTable
          columns={props.columns}
          rows={list.page.data}
          rowKey={props.rowKey}
          empty={props.empty}
        />
      )}
      <Pager list={list} />
    </>
  );
}

/** A labelled input; `kind` picks a password or a number field instead of text. */
export function TextField(props: {
  label: string;
  name: string;
  value: string;
  onInput(value: string): void;
  placeholder?: string;
  required?: boolean;
  kind?: "text" | "password" | "seconds";
}) {
  const common = {
    name: props.name,
    value: props.value,
    placeholder: props.placeholder,
    required: props.required,
    onInput: (e: Event) => props.onInput((e.currentTarget as HTMLInputElement).value),
  };
  if (props.kind === "password") {
    return (
      <label>
        {props.label}
        <input type="password" autocomplete="new-password" {...common} />
      </label>
    );
  }
  if (props.kind === "seconds") {
    return (
      <label>
        {props.label}
        <input type="number" min={0} step={1} {...common} />
      </label>
    );
  }
  return (
    <label>
      {props.label}
      <input type="text" {...common} />
    </label>
  );
}

export function Select(props: {
  label: string;
  name: string;
  value: string;
  options: ReadonlyArray<readonly [string, string]>;
  onChange(value: string): void;
}) {
  return (
    <label>
      {props.label}
      <select
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value)}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function DeleteButton(props: { label: string; onClick(): void }) {
  return (
    <button type="button" class="danger" onClick={props.onClick}>
      {props.label}
    </button>
  );
}

export function Card(props: {
  section: string;
  title: string;
  about: string;
  children: ComponentChildren;
}) {
  return (
    <div class="card" data-section={props.section}>
      <h2>{props.title}</h2>
      <p class="muted about">{props.about}</p>
      {props.children}
    </div>
  );
}
