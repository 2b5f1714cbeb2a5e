/**
 * Who may call CreateAcls, DescribeAcls and DeleteAcls. Kafka asks for ALTER (DESCRIBE to
 * describe) on the cluster; there are no cluster rules here, so only an authenticated superuser
 * may, and anyone else gets CLUSTER_AUTHORIZATION_FAILED. Where the listener authenticates no
 * one (no SASL mechanism offered, no client certificate naming a user), no caller could ever
 * qualify: that is answered SECURITY_DISABLED, as Kafka answers where no authorizer is
 * configured, which Kafka tools read as "ACLs are not managed here".
 */
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { AclChanger, AclOutcome } from "../acl-bindings-store.ts";
import type { RequestContext } from "../handler-context.ts";

/** null when the caller may go ahead; else the refusal, logged. */
export function aclAccessRefusal(
  context: RequestContext,
  what: "describe" | "change",
): AclOutcome | null {
  const { sasl } = context;
  if (sasl.superuser) return null;
  const refusal: AclOutcome =
    sasl.principal === null && sasl.offeredMechanisms.length === 0
      ? {
          errorCode: KafkaError.SECURITY_DISABLED,
          errorMessage:
            "No Authorizer is configured for Kafka clients: this listener authenticates no one, so no superuser can manage ACLs here; use the admin API.",
        }
      : {
          errorCode: KafkaError.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: `Only a superuser may ${what} ACLs.`,
        };
  context.logger.info(
    { ...aclChanger(context), clientId: context.clientId, errorCode: refusal.errorCode },
    `Kafka ACL request refused: ${what}`,
  );
  return refusal;
}

export function aclChanger(context: RequestContext): AclChanger {
  return { username: context.sasl.principal, remote: context.remote };
}
