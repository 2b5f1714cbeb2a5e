/**
 * The MQTT <-> Kafka bridge inside one node: rules from the [bridge] config section connect the
 * MQTT broker with the Kafka topic store. Both directions are described in their own files.
 */
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { KafkaToMqtt } from "./kafka-to-mqtt.ts";
import { MqttToKafka } from "./mqtt-to-kafka.ts";

export interface Bridge {
  readonly toKafka: MqttToKafka | null;
  readonly toMqtt: KafkaToMqtt | null;
  stop(): Promise<void>;
}

export async function startBridge(
  config: Config,
  mqtt: MqttBroker,
  kafka: KafkaBroker,
  logger: Logger,
): Promise<Bridge> {
  const rules = config.bridge;
  let toKafka: MqttToKafka | null = null;
  if (rules.mqtt_to_kafka.length > 0) {
    const forwarder = new MqttToKafka(
      rules.mqtt_to_kafka,
      kafka.store,
      config.kafka.default_partitions,
      // The store's default, as KafkaBroker opens it: what a topic the bridge creates takes.
      Math.min(config.kafka.message_max_bytes, config.kafka.segment_bytes),
      logger,
    );
    mqtt.kafkaRefuses = (message) => forwarder.refuses(message);
    mqtt.forwardToKafka = (message) => {
      const appended = forwarder.forward(message);
      // Only a QoS 1/2 publisher's acknowledgement awaits this; for QoS 0 messages and wills
      // nobody does, and an unhandled rejection would end the process. The failure is already
      // logged and counted (forwarder.failed); the awaiting acknowledgements still see it.
      appended?.catch(() => {});
      return appended;
    };
    toKafka = forwarder;
  }
  let toMqtt: KafkaToMqtt | null = null;
  if (rules.kafka_to_mqtt.length > 0) {
    toMqtt = new KafkaToMqtt(rules.kafka_to_mqtt, kafka.store, mqtt, config.data_dir, logger);
    await toMqtt.start();
  }
  logger.info(
    { mqttToKafka: rules.mqtt_to_kafka.length, kafkaToMqtt: rules.kafka_to_mqtt.length },
    "MQTT <-> Kafka bridge started",
  );
  return {
    toKafka,
    toMqtt,
    async stop() {
      mqtt.forwardToKafka = null;
      mqtt.kafkaRefuses = null;
      await toMqtt?.stop();
    },
  };
}
