/** Shared pieces: a paged list loader, the table, the pager, and error/empty states. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type Page, type Query } from "./api.ts";

/** Items per page in every list. */
export const PAGE_SIZE = 20;
/** Lists reload on their own this often, so kicks and new clients show up. */
const LIST_REFRESH_MS = 3000;

export interface ListState<T> {
  page: Page<T> | null;
  error: ApiError | null;
  offset: number;
  setOffset(offset: number): void;
  reload(): void;
}

/** Loads one page of a list route, again every LIST_REFRESH_MS and whenever the query changes. */
export function useList<T>(path: string, query: Query): ListState<T> {
  const [page, setPage] = useState<Page<T> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [offset, setOffset] = useState(0);
  const key = JSON.stringify(query);
  const generation = useRef(0);

  // A new query starts from the first page.
  useEffect(() => setOffset(0), [key]);

  const reload = useCallback(() => {
    const mine = ++generation.current;
    api<Page<T>>("GET", path, { ...query, limit: PAGE_SIZE, offset }).then(
      (loaded) => {
        if (mine !== generation.current) return;
        setPage(loaded);
        setError(null);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err instanceof ApiError ? err : new ApiError(0, "ERROR", String(err)));
      },
    );
  }, [path, key, offset]);

  useEffect(() => {
    reload();
    const timer = setInterval(reload, LIST_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  return { page, error, offset, setOffset, reload };
}

export function ErrorBanner({ error }: { error: ApiError | null }) {
  if (error === null) return null;
  return (
    <div class="banner error" role="alert">
      {error.status === 0 ? "API unreachable: " : `Error ${error.status}: `}
      {error.message}
    </div>
  );
}

export interface Column<T> {
  title: string;
  cell(row: T): ComponentChildren;
  class?: string;
}

export function DataTable<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey(row: T): string;
  empty: string;
}) {
  if (props.rows.length === 0) return <div class="empty">{props.empty}</div>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.title} class={c.class}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)} data-row={props.rowKey(row)}>
              {props.columns.map((c) => (
                <td key={c.title} class={c.class}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Pager<T>({ list }: { list: ListState<T> }) {
  const meta = list.page?.meta;
  if (meta === undefined || meta.total === 0) return null;
  const last = Math.min(meta.offset + meta.limit, meta.total);
  return (
    <div class="pager">
      <span>
        {meta.offset + 1}–{last} of {meta.total}
      </span>
      <button
        type="button"
        disabled={meta.offset === 0}
        onClick={() => list.setOffset(Math.max(0, meta.offset - meta.limit))}
      >
        Previous
      </button>
      <button
        type="button"
        disabled={meta.nextOffset === null}
        onClick={() => meta.nextOffset !== null && list.setOffset(meta.nextOffset)}
      >
        Next
      </button>
    </div>
  );
}

/** A list page: title, filter controls, error banner, table or empty state, pager. */
export function ListView<T>(props: {
  title: string;
  filters: ComponentChildren;
  list: ListState<T>;
  columns: Column<T>[];
  rowKey(row: T): string;
  empty: string;
}) {
  const { list } = props;
  return (
    <section>
      <h1>{props.title}</h1>
      <div class="filters">
        {props.filters}
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
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
    </section>
  );
}

/** A text input that reports its value once typing pauses (or on Enter). */
export function SearchInput(props: {
  label: string;
  placeholder: string;
  onSearch(value: string): void;
  name: string;
}) {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const fire = (value: string, delayMs: number) => {
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = setTimeout(() => props.onSearch(value.trim()), delayMs);
  };
  return (
    <label>
      {props.label}
      <input
        type="search"
        name={props.name}
        placeholder={props.placeholder}
        onInput={(e) => fire(e.currentTarget.value, 300)}
        onKeyDown={(e) => e.key === "Enter" && fire(e.currentTarget.value, 0)}
      />
    </label>
  );
}

export function ConnectedSelect({ onChange }: { onChange(value: string): void }) {
  return (
    <label>
      Status
      <select name="connected" onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">all</option>
        <option value="true">connected</option>
        <option value="false">offline</option>
      </select>
    </label>
  );
}

/** Exact client id search plus connected/offline status: the clients and sessions filters. */
export function ClientFilters(props: {
  onClientId(value: string): void;
  onConnected(value: string): void;
}) {
  return (
    <>
      <SearchInput
        label="Client id"
        name="clientId"
        placeholder="exact client id"
        onSearch={props.onClientId}
      />
      <ConnectedSelect onChange={props.onConnected} />
    </>
  );
}
