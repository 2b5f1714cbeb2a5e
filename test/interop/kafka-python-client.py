"""kafka-python (Debian's python3-kafka) as a real client of an older protocol generation
(JoinGroup v0-2, OffsetCommit v2, ...), driven by test/interop/kafka-python.test.ts.

  produce BOOTSTRAP TOPIC COUNT          creates TOPIC (3 partitions), sends COUNT keyed records
  consume BOOTSTRAP TOPIC GROUP SECONDS AT
                                         a group member for SECONDS, committing after each poll;
                                         its assignment is noted at time AT (epoch seconds)
  admin BOOTSTRAP TOPIC                  creates TOPIC, alters and describes its retention.ms,
                                         then tries to create and to list an ACL on it
  sasl BOOTSTRAP TOPIC MECHANISM USER PASSWORD
                                         logs in (SASL_PLAINTEXT), sends one record to TOPIC and
                                         reads it back from partition 0

Each prints one JSON line: what it produced, or the values it read and its assignment at AT.
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ConfigResource,
    ConfigResourceType,
    NewTopic,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)


# Given up front, it skips the client's version probe, which has a 2 s budget and misbehaves
# on a loaded machine. The admin client probes the controller all the same: it gets 10 s.
API_VERSION = (2, 4, 0)
PROBE_TIMEOUT_MS = 10_000


def admin_client(bootstrap):
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        api_version=API_VERSION,
        api_version_auto_timeout_ms=PROBE_TIMEOUT_MS,
    )


def produce(bootstrap, topic, count):
    admin = admin_client(bootstrap)
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


def sasl(bootstrap, topic, mechanism, user, password):
    login = dict(
        bootstrap_servers=bootstrap,
        api_version=API_VERSION,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_plain_username=user,
        sasl_plain_password=password,
    )
    try:
        # Refused, kafka-python retries its login until max_block_ms, then times out.
        producer = KafkaProducer(acks="all", max_block_ms=5000, **login)
        producer.send(topic, key=b"k", value=mechanism.encode()).get(timeout=10)
        producer.close()
        consumer = KafkaConsumer(consumer_timeout_ms=5000, **login)
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        record = next(iter(consumer), None)
        consumer.close()
        print(json.dumps({"read": None if record is None else record.value.decode()}))
    except KafkaError as error:
        print(json.dumps({"error": type(error).__name__}))


def admin(bootstrap, topic):
    client = admin_client(bootstrap)
    client.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "3600000"})
    altered = client.alter_configs([resource])
    alter_errors = [r[0] for r in altered.resources]
    described = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = [e for response in described for r in response.resources for e in r[4]]
    retention = next(e[1] for e in entries if e[0] == "retention.ms")
    deny = ACL(
        principal="User:bob",
        host="*",
        operation=ACLOperation.WRITE,
        permission_type=ACLPermissionType.DENY,
        resource_pattern=ResourcePattern(ResourceType.TOPIC, topic),
    )
    created = client.create_acls([deny])
    on_topic = ACLFilter(
        principal=None,
        host="*",
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(
            ResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL
        ),
    )
    try:
        listed, list_error = client.describe_acls(on_topic)
    except KafkaError as error:
        listed, list_error = [], type(error)
    client.close()
    print(
        json.dumps(
            {
                "alterErrors": alter_errors,
                "retentionMs": retention,
                "created": len(created["succeeded"]),
                "failed": [error.__name__ for _, error in created["failed"]],
                "listed": len(listed),
                "listError": list_error.__name__,
            }
        )
    )

if __name__ == "__main__":
    if sys.argv[1] == "admin":
        admin(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "sasl":
        sasl(*sys.argv[2:7])
    elif sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        consume(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
