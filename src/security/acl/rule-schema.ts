/**
 * The shape of an ACL rule, validated the same way whether it comes from [mqtt_acl] rules in
 * the config file or from the admin API.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { validateTopicFilter } from "../../broker/mqtt/topic.ts";
import { ACL_ACTIONS, ACL_PERMISSIONS } from "../types.ts";

/** The longest a prefix may be per family: 32 bits for IPv4, 128 for IPv6. */
function prefixBitsMax(address: string): number {
  return isIP(address) === 4 ? 32 : 128;
}

/** An IP address or a CIDR block: "10.1.2.3", "10.0.0.0/8", "::1", "fd00::/8". */
export function isIpOrCidr(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return isIP(value) !== 0;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (isIP(address) === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= prefixBitsMax(address);
}

export const AclRuleSpecSchema = z.strictObject({
  permission: z.enum(ACL_PERMISSIONS),
  action: z.enum(ACL_ACTIONS),
  topic: z.string().min(1).max(65_535).refine(validateTopicFilter, "not a valid topic filter"),
  username: z.string().min(1).max(65_535).optional(),
  client_id: z.string().min(1).max(65_535).optional(),
  ip: z.string().refine(isIpOrCidr, "not an IP address or CIDR block").optional(),
});
