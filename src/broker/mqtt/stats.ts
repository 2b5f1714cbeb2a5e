/** Counters of one broker, read by $SYS, metrics and the admin API. Plain numbers: cheap to bump. */
export class BrokerStats {
  connects = 0;
  disconnects = 0;
  /** Every refused connection; of them, those at max_connections (socket or CONNACK) and the rate. */
  connectionsRefused = 0;
  connectionsRefusedLimit = 0;
  connectionsRefusedRate = 0;
  protocolErrors = 0;
  internalErrors = 0;
  messagesIn = 0;
  messagesOut = 0;
  /** messagesIn and messagesOut by QoS (each sums to its total). */
  messagesInQos0 = 0;
  messagesInQos1 = 0;
  messagesInQos2 = 0;
  messagesOutQos0 = 0;
  messagesOutQos1 = 0;
  messagesOutQos2 = 0;
  bytesIn = 0;
  bytesOut = 0;
  droppedSlowConsumer = 0;
  slowSubscribers = 0;
  droppedQueueFull = 0;
  droppedExpired = 0;
  droppedOffline = 0;
  droppedTooLarge = 0;
  droppedNotAuthorized = 0;
  droppedPayloadFormat = 0;
  /** Publishes refused by [mqtt_schema_validation] (schema-validation.ts). */
  droppedSchemaInvalid = 0;
  retainedRefused = 0;
  sessionsExpired = 0;
  willsPublished = 0;
  /** CONNECTs refused by the authenticators; then by reason (auth-failures.ts), summing to it. */
  authFailures = 0;
  authFailuresBadCredentials = 0;
  authFailuresAnonymous = 0;
  authFailuresBadMethod = 0;
  authFailuresEnhancedAuth = 0;
  authFailuresError = 0;
  /** CONNECTs refused by a ban. */
  bannedRefused = 0;
  /** Publishes, subscriptions and wills the ACL refused. */
  aclDenied = 0;
  /** Delayed publish (`$delayed/`): published once due; refused as malformed, over the limit. */
  delayedPublished = 0;
  delayedInvalid = 0;
  delayedQuotaExceeded = 0;
  /** Delayed messages whose Message Expiry passed while they waited: dropped. */
  delayedExpired = 0;
}
