/** The MQTT codec (3.1, 3.1.1 and 5.0): an incremental parser and a single encoder. */

export * from "./constants.ts";
export { encode, encodePublish } from "./encoder.ts";
export type * from "./packets.ts";
export { MqttParser } from "./parser.ts";
export {
  encodedPropertiesLength,
  PropertyContext,
  type PropertyContextBit,
} from "./properties.ts";
