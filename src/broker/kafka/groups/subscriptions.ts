/**
 * The topics a consumer group's members subscribe to, read from their metadata for the chosen
 * assignor (Kafka's ConsumerProtocolSubscription: an int16 version, then the topic names, in
 * every version). OffsetDelete refuses to delete the offsets of a topic a live group reads.
 */
import type { Group } from "./group.ts";

/**
 * The subscribed topics; null when not known (not a consumer group, no assignor chosen yet,
 * metadata that does not parse), which callers take as "every topic", as Kafka does.
 */
export function subscribedTopics(group: Group): Set<string> | null {
  if (group.protocolType !== "consumer" || group.protocolName === null) return null;
  const topics = new Set<string>();
  for (const member of group.members.values()) {
    const names = subscriptionTopics(group.chosenMetadata(member));
    if (names === null) return null;
    for (const name of names) topics.add(name);
  }
  return topics;
}

/** The int16 version every ConsumerProtocolSubscription starts with. */
const VERSION_BYTES = 2;

/** The topic names of one ConsumerProtocolSubscription; null if it does not parse. */
export function subscriptionTopics(metadata: Buffer): string[] | null {
  if (metadata.length < VERSION_BYTES + 4) return null;
  const count = metadata.readInt32BE(VERSION_BYTES);
  if (count < 0) return null;
  const names: string[] = [];
  let at = VERSION_BYTES + 4;
  for (let i = 0; i < count; i++) {
    if (at + 2 > metadata.length) return null;
    const length = metadata.readInt16BE(at);
    at += 2;
    if (length < 0 || at + length > metadata.length) return null;
    names.push(metadata.toString("utf8", at, at + length));
    at += length;
  }
  return names;
}
