/** Reading the subscribed topics out of consumer-protocol member metadata (OffsetDelete). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { subscriptionTopics } from "../../../../src/broker/kafka/groups/subscriptions.ts";
import { consumerSubscription as subscription } from "../../../helpers/kafka-wire.ts";

test("the topics of every subscription version, whatever follows them", () => {
  for (const version of [0, 1, 2, 3]) {
    const metadata = subscription(version, ["orders", "päckchen", ""], Buffer.from("user data"));
    assert.deepEqual(subscriptionTopics(metadata), ["orders", "päckchen", ""]);
  }
  assert.deepEqual(subscriptionTopics(subscription(0, [])), []);
});

test("metadata that does not parse gives null, never a partial list", () => {
  const whole = subscription(1, ["a", "bb"]);
  for (let cut = 0; cut < whole.length - 4; cut++) {
    assert.equal(subscriptionTopics(whole.subarray(0, cut)), null, `cut at ${cut}`);
  }
  const negative = subscription(0, ["a"]);
  negative.writeInt32BE(-1, 2);
  assert.equal(subscriptionTopics(negative), null);
  assert.equal(subscriptionTopics(Buffer.from("m")), null);
});
