/**
 * The shape of topic rewrite and auto-subscribe rules, validated the same way whether they
 * come from the config file ([mqtt_topic_rewrite], [mqtt_auto_subscribe]) or the admin API.
 * Everything a rule needs at run time is checked here (its expression compiles, its
 * destination refers only to groups the expression has), so compiling it later cannot fail.
 */
import { z } from "zod";
import { topicWith } from "../../../security/topic-template.ts";
import { hasSpecialPrefix, isSharedForm, validSubscribeFilter } from "../filter-prefixes.ts";
import { TOPIC_LENGTH_BYTES_MAX, validateTopicFilter, validateTopicName } from "../topic.ts";
import {
  captureGroupCount,
  compileRegex,
  fillWith,
  highestGroupRef,
  parseDestTemplate,
} from "./rewrite.ts";
import { REWRITE_ACTIONS } from "./types.ts";

/** What a placeholder or group reference stands for while a template's shape is checked. */
const STAND_IN = "x";

function plainFilter(text: string): boolean {
  return validateTopicFilter(text) && !hasSpecialPrefix(text);
}

const topicText = z.string().min(1).max(TOPIC_LENGTH_BYTES_MAX);

export const RewriteRuleSpecSchema = z
  .strictObject({
    action: z.enum(REWRITE_ACTIONS),
    source_topic: topicText.refine(plainFilter, "not a plain topic filter"),
    re: z.string().superRefine((text, ctx) => {
      const re = compileRegex(text);
      if (typeof re === "string") ctx.addIssue({ code: "custom", message: re });
    }),
    dest_topic: topicText,
  })
  .superRefine((rule, ctx) => {
    const dest = parseDestTemplate(rule.dest_topic);
    const shape = fillWith(dest, STAND_IN);
    const path = ["dest_topic"];
    if (!plainFilter(shape)) {
      ctx.addIssue({ code: "custom", path, message: "not a plain topic filter" });
    } else if (rule.action === "publish" && !validateTopicName(shape)) {
      ctx.addIssue({ code: "custom", path, message: "a publish rule's topic has no wildcard" });
    }
    const re = compileRegex(rule.re);
    if (typeof re === "string") return; // reported on `re`
    const groups = captureGroupCount(re);
    if (highestGroupRef(dest) > groups) {
      const noun = groups === 1 ? "group" : "groups";
      const message = `refers to $${highestGroupRef(dest)} but the expression has ${groups} ${noun}`;
      ctx.addIssue({ code: "custom", path, message });
    }
  });

const qosLevel = z.literal([0, 1, 2]);

export const AutoSubscribeRuleSpecSchema = z
  .strictObject({
    topic: topicText.refine(
      (topic) => validSubscribeFilter(topicWith(topic, STAND_IN)),
      "not a valid topic filter",
    ),
    qos: qosLevel.default(0),
    no_local: z.boolean().default(false),
    retain_as_published: z.boolean().default(false),
    retain_handling: qosLevel.default(0),
  })
  .refine((rule) => !(rule.no_local && isSharedForm(rule.topic)), {
    path: ["no_local"],
    message: "a shared subscription cannot have no_local [MQTT-3.8.3-4]",
  });
