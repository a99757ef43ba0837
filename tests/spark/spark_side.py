"""The Spark side of the conformance suite: the lab's aggregation on PySpark, one micro-batch per
file.

Each kappa micro-batch becomes one file of `events_stages` values (an empty file for a batch that
read nothing). A file source with maxFilesPerTrigger=1 reads one file per batch, in modification
time order, and Spark's own no-data batches are turned off: kappa's no-data batches are the empty
files, so Spark runs exactly kappa's batches, in the same order, with the same records.
The query is the lab's: from_json with the lab's schema, to_timestamp(time), withWatermark,
groupBy(window(...), dimension).count(), select(window.start, window.end, dimension, count),
foreachBatch writing the batch's rows (appended, upserted by window and value in update mode,
replacing the table in complete mode, as kappa's sinks do).
"""

import os
import threading
from calendar import timegm
from datetime import datetime

JAVA17_OPENS = " ".join("--add-opens=java.base/%s=ALL-UNNAMED" % p for p in (
    "java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio",
    "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "sun.nio.ch", "sun.nio.cs",
    "sun.security.action", "sun.util.calendar"))


def session(work):
    import sys
    # Python workers (createDataFrame from Python objects) run the driver's Python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    return (SparkSession.builder
            .master("local[2]")
            .appName("kappa-spark-conformance")
            .config("spark.driver.extraJavaOptions", JAVA17_OPENS + " -Duser.timezone=UTC " + os.environ.get(
                        # A short-lived JVM: the C1 compiler only and the serial collector spend
                        # less of the two cores than C2 and G1 (about a third less wall time).
                        "KAPPA_SPARK_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.sql.adaptive.enabled", "false")
            # Few rows a batch: interpreted expressions cost less than compiling them each batch.
            .config("spark.sql.codegen.wholeStage", "false")
            .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
            .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
            .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
            .config("spark.sql.streaming.minBatchesToRetain", "2")
            .config("spark.sql.streaming.stateStore.maintenanceInterval", "600s")
            .config("spark.sql.warehouse.dir", os.path.join(work, "warehouse"))
            .config("spark.driver.memory", "1g")
            .getOrCreate())


# The lab's schema of events_stages (seed, section 3: kafkaSchema of the aggregation notebook).
def stages_schema():
    from pyspark.sql.types import LongType, StringType, StructField, StructType
    return (StructType()
            .add(StructField("time", StringType()))
            .add(StructField("user_id", LongType()))
            .add(StructField("user_name", StringType()))
            .add(StructField("dept_name", StringType()))
            .add(StructField("gender", StringType()))
            .add(StructField("age", LongType()))
            .add(StructField("hello", StringType()))
            .add(StructField("id", LongType())))


def _bound(text):
    return text[:-4] if text.endswith(".000") else text


def _interval(ms):
    return f"{ms // 1000} seconds" if ms % 1000 == 0 else f"{ms} milliseconds"


class SparkRun:
    """One aggregation query on Spark over the files of one kappa query's batches."""

    def __init__(self, spark, query, zone, work):
        self.query, self.zone, self.work = query, zone, work
        self.batches = {}  # Spark batch id -> [(start, end, value, count)] written
        self.lock = threading.Lock()
        src = os.path.join(work, "input")
        os.makedirs(src, exist_ok=True)
        base = 1_600_000_000
        for b in query.batches:
            p = os.path.join(src, "batch-%06d.json" % b.id)
            with open(p, "w", encoding="utf-8") as f:
                for v in b.values:
                    f.write(v + "\n")
            os.utime(p, (base + b.id, base + b.id))
        self._start(spark, src)

    def _start(self, spark, src):
        from pyspark.sql.functions import col, date_format, from_json, window
        q = self.query
        spark.conf.set("spark.sql.session.timeZone", self.zone)
        stages = (spark.readStream.format("text").option("maxFilesPerTrigger", 1).load(src)
                  .select(from_json(col("value").cast("string"), stages_schema()).alias("stages"))
                  .selectExpr("stages.*"))
        if q.offset_ms:
            w = window("timestamp", _interval(q.window_ms), _interval(q.slide_ms), _interval(q.offset_ms))
        else:
            w = window("timestamp", _interval(q.window_ms), _interval(q.slide_ms))
        counts = (stages
                  .selectExpr("to_timestamp(time) as timestamp", q.dimension)
                  .withWatermark("timestamp", _interval(q.watermark_ms))
                  .groupBy(w, q.dimension).count()
                  .select("window.start", "window.end", q.dimension, "count")
                  # The table's text form of the bounds (kappa's SQLite table, as the lab saw
                  # them in MySQL): wall-clock time in the session zone, with milliseconds
                  # when there are any (the ".000" is cut in write()).
                  .select(date_format("start", "yyyy-MM-dd HH:mm:ss.SSS").alias("start"),
                          date_format("end", "yyyy-MM-dd HH:mm:ss.SSS").alias("end"),
                          q.dimension, "count"))

        def write(df, batch_id):
            rows = [(_bound(r[0]), _bound(r[1]), r[2], r[3]) for r in df.collect()]
            with self.lock:
                self.batches[batch_id] = [tuple(r) for r in rows]

        self.handle = (counts.writeStream
                       .queryName(f"q{abs(hash(self.work)) % 10**9}")
                       .outputMode(q.output_mode)
                       .option("checkpointLocation", os.path.join(self.work, "checkpoint"))
                       .foreachBatch(write)
                       .start())

    def finish(self):
        """Waits for every file; returns (table rows, [per-batch facts])."""
        self.handle.processAllAvailable()
        progress = {}
        for p in self.handle.recentProgress:
            progress.setdefault(p["batchId"], p)
            if "addBatch" in p.get("durationMs", {}):
                progress[p["batchId"]] = p
        self.handle.stop()
        table = {}
        for batch_id in sorted(self.batches):
            rows = self.batches[batch_id]
            if self.query.output_mode == "complete":
                table = {}
            for (s, e, v, c) in rows:
                key = (s, e, v)
                if self.query.output_mode == "append" and key in table:
                    table[key + ("dup%d" % batch_id,)] = c
                else:
                    table[key] = c
        facts = []
        for batch_id in sorted(self.batches):
            p = progress.get(batch_id, {})
            wm = p.get("eventTime", {}).get("watermark")
            wm_ms = None
            if wm:
                t = datetime.strptime(wm, "%Y-%m-%dT%H:%M:%S.%fZ")
                wm_ms = timegm(t.timetuple()) * 1000 + t.microsecond // 1000
            dropped = sum(op.get("numRowsDroppedByWatermark", 0) for op in p.get("stateOperators", []))
            facts.append({"batch": batch_id, "watermark_ms": wm_ms, "late_groups": dropped,
                          "written": len(self.batches[batch_id])})
        return [k[:3] + (c,) for k, c in table.items()], facts
