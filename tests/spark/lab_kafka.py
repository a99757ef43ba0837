"""Spark's own Kafka source and sink against `kappa lab`: the lab's stage job (the seed's
section 2.2 code: readStream from `events`, from_json, the joins with names and depts, na.fill,
to_json, writeStream to Kafka) runs on PySpark over the broker of a running `kappa lab`, and its
records must be the same, key and value, as the ones kappa's own stage job wrote to
`events_stages` for the same events.

    lab_kafka.py --kappa build/kappa --work DIR --fixtures fixtures
The Kafka connector (org.apache.spark:spark-sql-kafka-0-10_2.12, CONNECTOR below: a 3.5 patch
release, which any 3.5 runtime takes) comes from Maven Central through spark.jars.packages,
cached under DIR/../ivy.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time


CONNECTOR = os.environ.get("KAPPA_SPARK_KAFKA_CONNECTOR", "3.5.7")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kappa", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fixtures", required=True)
    a = ap.parse_args()
    began = time.monotonic()
    os.makedirs(a.work, exist_ok=True)
    port, http = free_port(), free_port()
    bootstrap = f"127.0.0.1:{port}"
    data = os.path.join(a.work, "lab")
    subprocess.run(["rm", "-rf", data])
    lab_log = open(os.path.join(a.work, "lab.log"), "w")
    lab = subprocess.Popen([a.kappa, "lab", "--listen", bootstrap, "--http", f"127.0.0.1:{http}",
                            "--data", data, "--rate", "50", "--trigger", "1s"],
                           stdout=lab_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(6)  # about 300 events, staged by kappa a second at a time
        import pyspark
        from pyspark.sql import SparkSession
        from pyspark.sql.functions import col, from_json
        from pyspark.sql.types import LongType, StringType, StructField, StructType
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import spark_side
        version = pyspark.__version__
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark = (SparkSession.builder.master("local[2]").appName("kappa-lab-kafka")
                 .config("spark.driver.extraJavaOptions", spark_side.JAVA17_OPENS)
                 .config("spark.jars.packages",
                         f"org.apache.spark:spark-sql-kafka-0-10_2.12:{CONNECTOR}")
                 .config("spark.jars.ivy", os.path.join(os.path.dirname(os.path.abspath(a.work)), "ivy"))
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "1")
                 .config("spark.sql.session.timeZone", "Asia/Seoul")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        # The seed's section 2.2, with the lab's broker and an output topic of its own.
        kafkaReader = (spark.readStream.format("kafka")
                       .option("kafka.bootstrap.servers", bootstrap)
                       .option("subscribe", "events")
                       .option("startingOffsets", "earliest")
                       .load())
        kafkaSchema = (StructType().add(StructField("id", LongType()))
                       .add(StructField("hello", StringType()))
                       .add(StructField("time", StringType())))
        kafkaSelector = (kafkaReader
                         .select(col("key").cast("string"),
                                 from_json(col("value").cast("string"), kafkaSchema).alias("events"))
                         .selectExpr("events.id % 10 as user_id", "events.id % 5 as dept_id",
                                     "case when events.id % 2 = 0 then '남성' else '여성' end as gender",
                                     "(events.id % 100) + 1 as age", "events.*")
                         .select("time", "user_id", "dept_id", "gender", "age", "hello", "id"))
        nameStatic = (spark.read.option("inferSchema", "true")
                      .json(os.path.join(a.fixtures, "names.jsonl"))
                      .withColumnRenamed("name", "user_name"))
        deptStatic = (spark.read.option("inferSchema", "true")
                      .json(os.path.join(a.fixtures, "depts.jsonl"))
                      .withColumnRenamed("name", "dept_name"))
        nameJoined = kafkaSelector.join(nameStatic, kafkaSelector.user_id == nameStatic.uid,
                                        "leftOuter")
        nameAndDeptJoined = nameJoined.join(deptStatic, kafkaSelector.dept_id == deptStatic.did,
                                            "leftOuter")
        targetSelector = (nameAndDeptJoined.drop("uid", "did", "dept_id")
                          .select("time", "user_id", "user_name", "dept_name", "gender", "age",
                                  "hello", "id"))
        staticSelector = targetSelector.na.fill({"user_name": "Unknown Name",
                                                 "dept_name": "Unknown Dept"})
        query = (staticSelector
                 .selectExpr("cast(user_id as string) as key", "to_json(struct(*)) as value")
                 .writeStream.format("kafka")
                 .option("kafka.bootstrap.servers", bootstrap)
                 .option("topic", "spark_events_stages")
                 .option("checkpointLocation", os.path.join(a.work, "checkpoint"))
                 .outputMode("append")
                 .trigger(availableNow=True)
                 .start())
        query.awaitTermination()
        spark_rows = (spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap)
                      .option("subscribe", "spark_events_stages")
                      .option("startingOffsets", "earliest").load()
                      .selectExpr("cast(key as string) as key", "cast(value as string) as value")
                      .collect())
        spark_by_id = {json.loads(r.value)["id"]: (r.key, r.value) for r in spark_rows}
        # kappa's stage job keeps up a trigger behind: wait until it has staged what Spark did.
        kappa_by_id = {}
        for _ in range(30):
            kappa_rows = (spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap)
                          .option("subscribe", "events_stages")
                          .option("startingOffsets", "earliest").load()
                          .selectExpr("cast(key as string) as key",
                                      "cast(value as string) as value").collect())
            kappa_by_id = {json.loads(r.value)["id"]: (r.key, r.value) for r in kappa_rows}
            if set(spark_by_id) <= set(kappa_by_id):
                break
            time.sleep(1)
        spark.stop()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        lab_log.close()
    missing = sorted(set(spark_by_id) - set(kappa_by_id))
    differing = [i for i in spark_by_id if i in kappa_by_id and spark_by_id[i] != kappa_by_id[i]]
    print(f"spark_kafka_lab: PySpark {version}'s Kafka source and sink ran the lab's stage job on "
          f"kappa lab's broker: {len(spark_by_id)} records staged by Spark, {len(kappa_by_id)} by "
          f"kappa, {len(missing)} missing from kappa's, {len(differing)} differing in key or "
          f"value; wall {time.monotonic() - began:.1f} s")
    for i in differing[:5]:
        print(f"  id {i}:\n    spark {spark_by_id[i]}\n    kappa {kappa_by_id[i]}")
    ok = spark_by_id and not missing and not differing
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
