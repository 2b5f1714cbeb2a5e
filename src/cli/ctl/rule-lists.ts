/** What every `robustmq ctl` rule list shares: paging, `list` and `delete <id>`. */
import { type Command, Option } from "commander";
import { ACL_PERMISSIONS } from "../../security/types.ts";
import { action, addPaging } from "./actions.ts";
import { type Column, renderObject, renderPage } from "./output.ts";

/** The --limit / --offset a paged `list` was given. */
export function pageQueryOf(command: Command) {
  const { limit, offset } = command.opts<{ limit?: number; offset?: number }>();
  return { limit, offset };
}

/** `list` and `delete <id>` of one rule list at `path`. */
export function registerListAndDelete(
  group: Command,
  path: string,
  columns: readonly Column[],
): void {
  const list = addPaging(
    group.command("list").description("list the rules in evaluation order (config, then API)"),
  );
  list.action(
    action(
      (client) => client.get(path, pageQueryOf(list)),
      (body) => renderPage(body, columns),
    ),
  );
  group
    .command("delete <id>")
    .description("delete an API rule (config file rules are read-only)")
    .action(
      action(
        (client, id: string) => client.delete(`${path}/${encodeURIComponent(id)}`),
        renderObject,
      ),
    );
}

/** `--permission allow|deny`, which every ACL `add` requires. */
export function permissionOption(): Option {
  return new Option("--permission <permission>", "allow or deny")
    .choices(ACL_PERMISSIONS)
    .makeOptionMandatory();
}
