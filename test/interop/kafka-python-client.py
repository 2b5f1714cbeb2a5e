"""kafka-python (Debian's python3-kafka) as a real client of an older protocol generation
(JoinGroup v0-2, OffsetCommit v2, ...), driven by test/interop/kafka-python.test.ts.

  produce BOOTSTRAP TOPIC COUNT          creates TOPIC (3 partitions), sends COUNT keyed records
  consume BOOTSTRAP TOPIC GROUP SECONDS AT
                                         a group member for SECONDS, committing after each poll;
                                         its assignment is noted at time AT (epoch seconds)

Each prints one JSON line: what it produced, or the values it read and its assignment at AT.
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic


# What kafka-python detects from this broker anyway. Given up front, it skips the client's
# version probe, which has a 2 s budget and misbehaves on a loaded machine.
API_VERSION = (2, 4, 0)


def produce(bootstrap, topic, count):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, api_version=API_VERSION)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", api_version=API_VERSION)
    for i in range(count):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i)
    producer.flush()
    producer.close()
    print(json.dumps({"produced": count}))


def consume(bootstrap, topic, group, seconds, at):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        api_version=API_VERSION,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
    )
    values = []
    assignment = None
    deadline = time.time() + seconds
    while time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            values.extend(r.value.decode() for r in records)
        consumer.commit()
        if assignment is None and time.time() >= at:
            assignment = sorted(tp.partition for tp in consumer.assignment())
    consumer.close()
    print(json.dumps({"values": values, "assignment": assignment}))


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        consume(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
