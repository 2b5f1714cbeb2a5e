import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DISCONNECT_REASONS,
  DisconnectCounts,
  disconnectReason,
} from "../../../../src/broker/mqtt/disconnect-reasons.ts";
import { ReasonCode } from "../../../../src/protocol/mqtt/constants.ts";

test("each way a connection ends falls in one category", () => {
  assert.equal(disconnectReason(true, -1, false), "client");
  assert.equal(disconnectReason(true, ReasonCode.PROTOCOL_ERROR, false), "client");
  assert.equal(disconnectReason(false, -1, true), "connection_lost");
  assert.equal(disconnectReason(false, -1, false), "other");
  assert.equal(disconnectReason(false, ReasonCode.KEEP_ALIVE_TIMEOUT, false), "keepalive_timeout");
  assert.equal(disconnectReason(false, ReasonCode.SESSION_TAKEN_OVER, false), "takeover");
  assert.equal(disconnectReason(false, ReasonCode.ADMINISTRATIVE_ACTION, false), "kicked");
  assert.equal(disconnectReason(false, ReasonCode.SERVER_SHUTTING_DOWN, false), "shutdown");
  assert.equal(disconnectReason(false, ReasonCode.PROTOCOL_ERROR, false), "protocol_error");
  assert.equal(disconnectReason(false, ReasonCode.TOPIC_ALIAS_INVALID, false), "protocol_error");
});

test("counts are kept per category", () => {
  const counts = new DisconnectCounts();
  counts.add("client");
  counts.add("client");
  counts.add("kicked");
  assert.deepEqual(
    DISCONNECT_REASONS.map((r) => counts.get(r)),
    DISCONNECT_REASONS.map((r) => (r === "client" ? 2 : r === "kicked" ? 1 : 0)),
  );
});
