/**
 * `$queue/`, `$exclusive/` and `$share/` prefixes: how a SUBSCRIBE filter splits into the
 * session key's prefix and the filter part rewrite rules and the ACL see.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  hasSpecialPrefix,
  isExclusiveFilter,
  isSharedForm,
  splitPrefix,
  validSubscribeFilter,
} from "../../../../../src/broker/mqtt/filter-prefixes.ts";

describe("filter prefixes", () => {
  test("$queue/ is the share group $queue", () => {
    assert.deepEqual(splitPrefix("$queue/jobs/+"), {
      keyPrefix: "$share/$queue/",
      inner: "jobs/+",
      kind: "queue",
    });
  });

  test("$exclusive/ keys the subscription by the filter alone", () => {
    assert.deepEqual(splitPrefix("$exclusive/a/b"), {
      keyPrefix: "",
      inner: "a/b",
      kind: "exclusive",
    });
    assert.equal(isExclusiveFilter("$exclusive/a"), true);
    assert.equal(isExclusiveFilter("a/$exclusive/a"), false);
  });

  test("$share/ keeps its group; an invalid one is left to the caller", () => {
    assert.deepEqual(splitPrefix("$share/g/a/#"), {
      keyPrefix: "$share/g/",
      inner: "a/#",
      kind: "share",
    });
    assert.equal(splitPrefix("$share//a"), null);
    assert.equal(splitPrefix("a/b"), null);
    assert.equal(splitPrefix("$SYS/#"), null);
  });

  test("special prefixes and shared forms are recognised", () => {
    for (const f of ["$share/g/a", "$queue/a", "$exclusive/a"]) assert.ok(hasSpecialPrefix(f), f);
    for (const f of ["$SYS/a", "a/$queue/b", "$queue", "share/g/a"]) {
      assert.ok(!hasSpecialPrefix(f), f);
    }
    assert.ok(
      isSharedForm("$queue/a") && isSharedForm("$share/g/a") && !isSharedForm("$exclusive/a"),
    );
  });

  test("validSubscribeFilter accepts what SUBSCRIBE accepts", () => {
    for (const f of ["a/+/#", "$share/g/a", "$queue/a/#", "$exclusive/+/x", "$SYS/#"]) {
      assert.ok(validSubscribeFilter(f), f);
    }
    for (const f of [
      "a/#/b",
      "$share/g",
      "$queue/",
      "$exclusive/",
      "$exclusive/$queue/a",
      "$queue/a#",
    ]) {
      assert.ok(!validSubscribeFilter(f), f);
    }
  });
});
