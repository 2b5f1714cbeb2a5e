/**
 * Deleting a consumer group (DeleteGroups, the admin API): only one without members and without
 * a join under way, with every offset it committed.
 */
import type { GroupCoordinator } from "./group-coordinator.ts";
import type { OffsetStore } from "./offset-store.ts";

export type GroupDeletion = "deleted" | "non-empty" | "not-found";

export async function deleteGroup(
  coordinator: GroupCoordinator,
  offsets: OffsetStore,
  groupId: string,
): Promise<GroupDeletion> {
  const known = coordinator.group(groupId) !== undefined;
  // Taken out of the coordinator first, in one step with the check: a member joining while
  // the offsets are deleted starts a new group.
  if (!coordinator.removeIfEmpty(groupId)) return "non-empty";
  const hadOffsets = await offsets.deleteGroup(groupId);
  return known || hadOffsets ? "deleted" : "not-found";
}
