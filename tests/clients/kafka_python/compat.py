"""kafka-python against one broker: KafkaAdminClient (create topics with configs, describe, alter
and reset configs, create partitions, describe the cluster, list/describe consumer groups, their
offsets, ListOffsets, OffsetDelete, DeleteRecords, delete groups and topics), a produce/consume
round trip through a consumer group, and transactions read by read_committed and
read_uncommitted consumers.

    python compat.py BOOTSTRAP PREFIX

Prints one line per operation, "ok   NAME" or "FAIL NAME: why", and exits 1 if any failed.
"""
import sys
import time
import traceback

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic, OffsetSpec

failed = 0


def step(name, fn):
    """Runs fn(); a falsy return or an exception fails the step. Returns fn's value (or None)."""
    global failed
    try:
        value = fn()
    except Exception as e:  # every failure is reported, and the next steps still run
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        traceback.print_exc(limit=3, file=sys.stdout)
        return None
    print(f"ok   {name}")
    return value


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def eventually(seconds, fn):
    deadline = time.monotonic() + seconds
    while True:
        if fn():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def main():
    bootstrap, prefix = sys.argv[1], sys.argv[2]
    topic, group = prefix + "_data", prefix + "_group"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)

    def create():
        r = admin.create_topics([NewTopic(topic, 2, 1, topic_configs={
            "retention.ms": "123456789", "cleanup.policy": "compact"})])
        errors = [(t["name"], t["error_code"], t["error_message"]) for t in r["topics"]]
        expect(errors == [(topic, 0, None)], f"answered {errors}")
        expect(eventually(10, lambda: topic in admin.list_topics()), "not listed after 10 s")
        return True
    step("admin.create_topics(2 partitions, retention.ms, cleanup.policy)", create)

    def described(key):
        r = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        c = r["topic"][topic][key]
        return c["value"], c["config_source"]

    def describe():
        got = (described("retention.ms"), described("cleanup.policy"))
        want = (("123456789", "DYNAMIC_TOPIC_CONFIG"), ("compact", "DYNAMIC_TOPIC_CONFIG"))
        expect(got == want, f"described {got}, want {want}")
        return True
    step("admin.describe_configs", describe)

    def alter():
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"retention.ms": "987654321"})])
        # Kafka applies an alteration through its metadata log: it may be described a moment later.
        want = ("987654321", "DYNAMIC_TOPIC_CONFIG")
        expect(eventually(10, lambda: described("retention.ms") == want),
               f"described {described('retention.ms')} 10 s after the alter")
        return True
    step("admin.alter_configs then described back", alter)

    def modified():
        r = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        return {k: (c["value"], c["config_source"]) for k, c in r["topic"][topic].items()}

    def legacy_alter():
        # AlterConfigs (not incremental) replaces a topic's overrides whole; kafka-python sends
        # the other overrides it described along, so cleanup.policy stays.
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"retention.ms": "555555"})], incremental=False)
        want = {"retention.ms": ("555555", "DYNAMIC_TOPIC_CONFIG"),
                "cleanup.policy": ("compact", "DYNAMIC_TOPIC_CONFIG")}
        expect(eventually(10, lambda: modified() == want), f"the modified configs are {modified()}, want {want}")
        return True
    step("admin.alter_configs(incremental=False)", legacy_alter)

    def reset():
        admin.reset_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"cleanup.policy": None})])
        want = {"retention.ms": ("555555", "DYNAMIC_TOPIC_CONFIG")}
        expect(eventually(10, lambda: modified() == want), f"the modified configs are {modified()}, want {want}")
        return True
    step("admin.reset_configs(cleanup.policy)", reset)

    def grow():
        admin.create_partitions({topic: 3})
        expect(eventually(10, lambda: len(admin.describe_topics([topic])[0]["partitions"]) == 3),
               f"described {admin.describe_topics([topic])}")
        return True
    step("admin.create_partitions(2 -> 3)", grow)

    def cluster():
        c = admin.describe_cluster()
        expect(len(c["brokers"]) == 1 and c["cluster_id"] and c["controller_id"] is not None
               and c["controller_id"] >= 0, f"described {c}")
        return True
    step("admin.describe_cluster", cluster)

    sent = [(f"k{i % 5}".encode(), f"v{i}".encode(), [("origin", b"compat")]) for i in range(20)]

    def produce():
        p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        futures = [p.send(topic, key=k, value=v, headers=h) for k, v, h in sent]
        p.flush(30)
        offsets = sorted((f.get(10).partition, f.get(10).offset) for f in futures)
        p.close()
        expect(len(offsets) == 20 and len(set(offsets)) == 20, f"metadata {offsets}")
        return True
    step("KafkaProducer.send x20 (keys, headers, acks=all)", produce)

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=30000)

    def consume():
        got = []
        for m in consumer:
            got.append((m.key, m.value, [(k, bytes(v)) for k, v in m.headers]))
            if len(got) == len(sent):
                break
        expect(sorted(got) == sorted(sent), f"read {len(got)} records, want the {len(sent)} sent")
        consumer.commit()
        return True
    step("KafkaConsumer in a group reads them and commits", consume)

    def list_groups():
        listed = {g["group_id"]: g for g in admin.list_groups()}
        expect(group in listed, f"{group} not among {sorted(listed)}")
        g = listed[group]
        expect((g["protocol_type"], g["group_state"]) == ("consumer", "Stable"), f"listed {g}")
        return True
    step("admin.list_groups", list_groups)

    def describe_groups():
        d = admin.describe_groups([group])[group]
        expect(d["error"] is None, f"error {d['error']}")
        expect((d["group_state"], d["protocol_type"], len(d["members"])) == ("Stable", "consumer", 1),
               f"described {d}")
        assigned = d["members"][0]["member_assignment"]["assigned_partitions"]
        expect([(a["topic"], sorted(a["partitions"])) for a in assigned] == [(topic, [0, 1, 2])],
               f"assignment {assigned}")
        return True
    step("admin.describe_groups", describe_groups)

    def authorized_operations():
        # Without an authorizer every operation is allowed, and Kafka says so when asked:
        # DescribeGroups, and Metadata for describe_topics and describe_cluster.
        d = admin.describe_groups([group], include_authorized_operations=True)[group]
        got = {"group": d["authorized_operations"],
               "topic": admin.describe_topics([topic])[0]["authorized_operations"],
               "cluster": admin.describe_cluster()["authorized_operations"]}
        want = {"group": ["DELETE", "DESCRIBE", "READ"],
                "topic": ["ALTER", "ALTER_CONFIGS", "CREATE", "DELETE", "DESCRIBE",
                          "DESCRIBE_CONFIGS", "READ", "WRITE"],
                "cluster": ["ALTER", "ALTER_CONFIGS", "CLUSTER_ACTION", "CREATE", "DESCRIBE",
                            "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE"]}
        got = {k: sorted(v) if v is not None else None for k, v in got.items()}
        expect(got == want, f"authorized operations {got}, want {want}")
        return True
    step("authorized operations of a group, a topic and the cluster", authorized_operations)
    consumer.close()

    def group_offsets():
        offsets = admin.list_group_offsets({group: None})[group]
        total = sum(o.offset for tp, o in offsets.items() if tp.topic == topic)
        expect(total == 20, f"committed {offsets}")
        return True
    step("admin.list_group_offsets", group_offsets)

    txn_topic = prefix + "_txn"

    def transactions():
        admin.create_topics([NewTopic(txn_topic, 1, 1)])
        p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=prefix + "_txnid")
        p.init_transactions()
        for values, commit in ((["committed-%d" % i for i in range(10)], True),
                               (["aborted-%d" % i for i in range(6)], False),
                               (["later-%d" % i for i in range(4)], True)):
            p.begin_transaction()
            for v in values:
                p.send(txn_topic, value=v.encode())
            p.flush(30)
            if commit:
                p.commit_transaction()
            else:
                p.abort_transaction()
        p.close()
        return True
    step("KafkaProducer transactions: commit, abort, commit", transactions)

    def read(isolation, want):
        c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation,
                          auto_offset_reset="earliest", consumer_timeout_ms=3000)
        c.assign([TopicPartition(txn_topic, 0)])
        got = []
        for m in c:
            got.append(m.value.decode())
            if len(got) == want:
                break
        for m in c.poll(timeout_ms=500).values():  # nothing past them
            got.extend(r.value.decode() for r in m)
        c.close()
        return sorted(got)

    def read_committed():
        want = sorted(["committed-%d" % i for i in range(10)] + ["later-%d" % i for i in range(4)])
        got = read("read_committed", len(want))
        expect(got == want, f"read {got}")
        return True
    step("KafkaConsumer read_committed sees the committed transactions only", read_committed)

    def read_uncommitted():
        got = read("read_uncommitted", 20)
        expect(len(got) == 20, f"read {len(got)} records, want 20")
        return True
    step("KafkaConsumer read_uncommitted sees all three", read_uncommitted)

    tps = [TopicPartition(topic, p) for p in range(3)]

    def list_offsets():
        latest = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        earliest = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
        maxes = admin.list_partition_offsets({tp: OffsetSpec.MAX_TIMESTAMP for tp in tps})
        expect(sum(latest[tp].offset for tp in tps) == 20, f"latest {latest}")
        expect(all(earliest[tp].offset == 0 for tp in tps), f"earliest {earliest}")
        for tp in tps:
            m, end = maxes[tp], latest[tp].offset
            if end == 0:
                expect((m.offset, m.timestamp) == (-1, -1), f"empty {tp}: max timestamp {m}")
            else:
                expect(0 <= m.offset < end and m.timestamp > 0, f"{tp} (end {end}): max timestamp {m}")
        return True
    step("admin.list_partition_offsets(LATEST, EARLIEST, MAX_TIMESTAMP)", list_offsets)

    def delete_group_offsets():
        r = admin.delete_group_offsets(group, [tps[0]])
        expect({tp: e.__name__ for tp, e in r.items()} == {tps[0]: "NoError"}, f"answered {r}")
        left = admin.list_group_offsets({group: None})[group]
        expect(tps[0] not in left and len(left) >= 1, f"committed {left}")
        return True
    step("admin.delete_group_offsets(one partition)", delete_group_offsets)

    def delete_records():
        r = admin.delete_records({tps[1]: 1})
        low = admin.list_partition_offsets({tps[1]: OffsetSpec.EARLIEST})[tps[1]].offset
        expect(low == 1, f"answered {r}; partition 1 starts at {low}")
        return True
    step("admin.delete_records then EARLIEST", delete_records)

    def log_dirs():
        dirs = admin.describe_log_dirs()
        found = {p["partition_index"]: p for d in dirs for ld in d["log_dirs"]
                 for t in ld["topics"] if t["name"] == topic for p in t["partitions"]}
        expect(sorted(found) == [0, 1, 2], f"{topic}'s partitions in the log dirs: {sorted(found)}")
        size = sum(p["partition_size"] for p in found.values())
        expect(size > 0, f"{topic} holds 20 records, its partitions {size} bytes: {dirs}")
        expect(all(p["offset_lag"] == 0 and not p["is_future_key"] for p in found.values()),
               f"current logs without lag: {dirs}")
        return True
    step("admin.describe_log_dirs", log_dirs)

    def delete_groups():
        r = admin.delete_groups([group])
        expect(r == {group: "OK"}, f"answered {r}")
        expect(group not in {g["group_id"] for g in admin.list_groups()}, "still listed")
        return True
    step("admin.delete_groups", delete_groups)

    def delete_topics():
        r = admin.delete_topics([topic, txn_topic])
        errors = sorted((t["name"], t["error_code"]) for t in r["topics"])
        expect(errors == sorted([(topic, 0), (txn_topic, 0)]), f"answered {errors}")
        expect(eventually(15, lambda: not {topic, txn_topic} & set(admin.list_topics())),
               "still listed after 15 s")
        return True
    step("admin.delete_topics", delete_topics)

    admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: compat.py BOOTSTRAP PREFIX", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
