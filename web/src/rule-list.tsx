/**
 * Lists of ordered rules (ACL, topic rewrite, auto-subscribe): numbered in evaluation order,
 * config file rules read-only, API rules deleted after a confirmation, and a new rule placed
 * last or before an API rule.
 */
import { api } from "./api.ts";
import type { Column, ListState } from "./components.tsx";
import { DeleteButton, type Outcome } from "./forms.tsx";

export interface RuleIdentity {
  id: string;
  source: "config" | "api";
}

/** The "position" choices: last, or just before one of the API rules listed. */
export function positions<T extends RuleIdentity>(
  list: ListState<T>,
  describe: (rule: T) => string,
): ReadonlyArray<readonly [string, string]> {
  const apiRules = (list.page?.data ?? []).filter((r) => r.source === "api");
  return [["", "last"], ...apiRules.map((r) => [r.id, `before ${r.id} (${describe(r)})`] as const)];
}

export function numbered<T extends RuleIdentity>(list: ListState<T>): Column<T> {
  const offset = list.page?.meta.offset ?? 0;
  const at = new Map((list.page?.data ?? []).map((r, i) => [r.id, offset + i + 1]));
  return { title: "#", cell: (r) => at.get(r.id), class: "num" };
}

export function deleteCell<T extends RuleIdentity>(section: string, remove: (rule: T) => void) {
  return (r: T) =>
    r.source === "api" ? (
      <DeleteButton label="Delete" onClick={() => remove(r)} />
    ) : (
      <span class="muted" title={`from [${section}] in the config file`}>
        read-only
      </span>
    );
}

/** Deletes an API rule after a confirmation, then reloads the list. */
export function useRemove<T extends RuleIdentity>(
  path: string,
  noun: string,
  list: ListState<T>,
  outcome: Outcome,
  describe?: (rule: T) => string,
) {
  return async (rule: T) => {
    const what = describe === undefined ? "" : ` (${describe(rule)})`;
    if (!confirm(`Delete ${noun} ${rule.id}${what}?`)) return;
    await outcome.run(async () => {
      await api("DELETE", `${path}/${encodeURIComponent(rule.id)}`);
      return `Deleted ${noun} ${rule.id}.`;
    });
    list.reload();
  };
}

/** The allow/deny choice of an ACL rule's form. */
export const PERMISSIONS = [
  ["allow", "allow"],
  ["deny", "deny"],
] as const;

/** An ACL rule's source and permission columns, as both ACL cards show them. */
export function sourceAndPermission<
  T extends RuleIdentity & { permission: string },
>(): Column<T>[] {
  return [
    { title: "Source", cell: (r) => <span class="badge">{r.source}</span> },
    {
      title: "Permission",
      cell: (r) => (
        <span class={`badge ${r.permission === "allow" ? "healthy" : "unreachable"}`}>
          {r.permission}
        </span>
      ),
    },
  ];
}
