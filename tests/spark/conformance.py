"""Spark conformance: kappa's aggregation tables against PySpark's, row for row.

Cases are scenario files: every bundled scenario without restarts or faults, seeded generated
ones, and a probe that tells the two late-row rules apart. Each runs on kappa (`kappa run --trace`,
its SQLite table, `kappa record` of events_stages); each of its aggregation queries then runs on
Spark over the same batches (spark_side.py), and the tables and each batch's watermark, late
groups and rows written are compared. One Spark session serves every case.

KAPPA_SPARK_WRONG_LATE_RULE=1 runs kappa with the other late rule than the Spark version's: the
suite must then report differing rows (the ctest spark_conformance_detects_wrong_rule).
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections import deque
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kappa_side  # noqa: E402

START = datetime(2022, 9, 30, 16, 42, 0)


def fmt(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


def probe_case():
    """Batch 1 moves the watermark (delay 0) to :33; batch 2 reads an event of [10,20). Spark 3.2
    judges it by batch 2's watermark (:33: late, dropped); Spark 3.4+ by batch 1's (the epoch:
    counted, then emitted)."""
    ev = lambda at, t, i: {"produce": {"at": fmt(START + timedelta(seconds=at)),
                                       "event": {"id": i, "time": fmt(START + timedelta(seconds=t))}}}
    return {
        "pipeline": {"aggregations": [{"table": "events_users_v1", "watermark": "0s"}]},
        "actions": [ev(3, 33, 1), ev(7, 15, 2), ev(8, 16, 12), ev(12, 17, 3), ev(13, 41, 4),
                    {"advance": {"to": fmt(START + timedelta(seconds=90))}}],
    }


def time_forms_case():
    """Event times in the forms kappa accepts besides the lab's: a T separator, fractions of a
    second, one-digit fields, zone suffixes; Spark's to_timestamp(time) must read each the same."""
    times = ["2022-09-30T16:42:01", "2022-09-30 16:42:02.750", "2022-9-30 16:42:3",
             "2022-09-30 7:42:04Z", "2022-09-30 16:42:05+09:00", "2022-09-30T08:42:06+01:00",
             "2022-09-30 16:42:07.123456", "2022-09-30 16:42:09.999", "2022-09-30T07:42:12.5Z",
             "2022-09-30 16:42:13 Asia/Seoul", "2022-09-30 07:42:14 UTC", "2022-09-30 16:42:15"]
    actions = [{"produce": {"at": fmt(START + timedelta(seconds=16 + k)),
                            "event": {"id": k, "time": t}}} for k, t in enumerate(times)]
    actions.append({"produce": {"at": fmt(START + timedelta(seconds=40)),  # closes every window
                                "event": {"id": 99, "time": fmt(START + timedelta(seconds=90))}}})
    actions.append({"advance": {"to": fmt(START + timedelta(seconds=120))}})
    return {"pipeline": {"aggregations": [{"table": "events_t", "window": "2s", "watermark": "0s"}]},
            "actions": actions}


def dst_case():
    """Windows across the end of daylight saving time in New York (01:00-02:00 happens twice)."""
    start = datetime(2022, 11, 6, 0, 59, 30)
    actions = []
    for k in range(12):
        actions.append({"produce": {"at": "2022-11-06T04:59:%02dZ" % (30 + 2 * k),
                                    "event": {"id": k, "time": "2022-11-06 01:%02d:00" % (k * 5)}}})
    actions.append({"advance": {"to": "2022-11-06T07:30:00Z"}})
    return {"pipeline": {"zone": "America/New_York",
                         "aggregations": [{"table": "events_t", "window": "30m", "slide": "10m",
                                           "watermark": "2h", "output_mode": "update"}]},
            "clock": {"start": fmt(start)}, "actions": actions}


def generated_case(seed):
    """A random arrival sequence and aggregation, reproducible from the seed."""
    r = random.Random(seed)
    sub = r.random() < 0.25  # sub-second windows, watermarks and event times
    if sub:
        window = r.choice([1500, 2500, 4000])
        slide = window if r.random() < 0.5 else window // 2
        offset = r.choice([0, 0, 500]) % slide
        watermark = r.choice([0, 500, 2500, 10000])
    else:
        window = r.choice([5, 10, 10, 20, 30, 60]) * 1000
        slide = window
        if r.random() < 0.4:
            slide = 1000 * r.choice([d for d in (1, 2, 5, 10, 15, 20, 30) if d * 1000 < window
                                     and window % (d * 1000) == 0 and window // (d * 1000) <= 6]
                                    or [window // 1000])
        offset = r.choice([0, 0, 0, 1000, 3000]) % slide
        watermark = 1000 * r.choice([0, 0, 5, 10, 15, 30, 60])
    agg = {"table": "events_t", "window": f"{window}ms", "slide": f"{slide}ms",
           "watermark": f"{watermark}ms",
           "output_mode": r.choice(["append", "append", "update", "complete"]),
           "dimension": r.choice(["user_name", "dept_name", "gender", "age", "user_id"])}
    if offset:
        agg["window_offset"] = f"{offset}ms"
    if r.random() < 0.35:
        agg["max_records_per_batch"] = r.randint(1, 6)
    pipeline = {"trigger": r.choice(["1s", "2s", "5s", "5s", "10s"]),
                "zone": r.choice(["Asia/Seoul", "Asia/Seoul", "UTC", "America/New_York"]),
                "aggregations": [agg]}
    if r.random() < 0.4:
        pipeline["topics"] = {"events_stages": {"partitions": r.randint(2, 3)}}
    actions, at = [], 1.0
    for _ in range(r.randint(12, 45)):
        at += r.choice([0, 0, 0.5, 1, 1, 2, 3, 5, 8])
        u = r.random()
        late = r.uniform(0, 4) if u < 0.65 else r.uniform(4, 40) if u < 0.9 else r.uniform(40, 150)
        event = START + timedelta(seconds=at - late)
        p = {"at": fmt(START + timedelta(seconds=int(at))),
             "event": {"id": r.randint(0, 999),
                       "time": event.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if sub else fmt(event)}}
        if r.random() < 0.1:
            p["repeat"] = r.randint(2, 4)
        actions.append({"produce": p})
    actions.append({"advance": {"to": fmt(START + timedelta(seconds=int(at) + 240))}})
    return {"pipeline": pipeline, "actions": actions}


def cases(scenarios_dir, generated, seed):
    out = []
    for name in sorted(os.listdir(scenarios_dir)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(scenarios_dir, name)
        s = kappa_side.load_jsonc(path)
        why = kappa_side.excluded_reason(s)
        if why:
            print(f"  (bundled {name}: not a case, it has a {why})")
            continue
        out.append(("bundled/" + name[:-5], s, scenarios_dir))
    out.append(("probe/late_rule", probe_case(), scenarios_dir))
    out.append(("probe/time_forms", time_forms_case(), scenarios_dir))
    out.append(("probe/dst_end", dst_case(), scenarios_dir))
    for i in range(generated):
        out.append((f"generated/{seed}-{i}", generated_case(seed * 100003 + i), scenarios_dir))
    return out


def compare_tables(kappa_rows, spark_rows):
    k = {r[:3]: r[3] for r in kappa_rows}
    s = {r[:3]: r[3] for r in spark_rows}
    diffs = []
    for key in sorted(set(k) | set(s), key=repr):
        if k.get(key) != s.get(key):
            diffs.append(f"{list(key)}: kappa {k.get(key)}, spark {s.get(key)}")
    extra = len(kappa_rows) - len(k) + len(spark_rows) - len(s)
    if extra:
        diffs.append(f"{extra} duplicate rows")
    return len(set(k) | set(s)), diffs


def compare_batches(query, facts):
    diffs = []
    # kappa's no-data batches (no records, after batch 0) must be ones Spark would run itself:
    # append or update mode, and the watermark moved past the one the previous batch ran with.
    for prev, b in zip(query.batches, query.batches[1:]):
        if not b.values and (query.output_mode == "complete" or b.watermark_ms <= prev.watermark_ms):
            diffs.append(f"batch {b.id}: a no-data batch Spark would not run")
    if len(facts) != len(query.batches):
        diffs.append(f"kappa ran {len(query.batches)} batches, spark {len(facts)}")
    for b, f in zip(query.batches, facts):
        for what, kv, sv in (("watermark_ms", b.watermark_ms, f["watermark_ms"]),
                             ("late_groups", b.late_groups, f["late_groups"]),
                             ("written", b.written, f["written"])):
            if kv != sv:
                diffs.append(f"batch {b.id} {what}: kappa {kv}, spark {sv}")
    return diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kappa", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--late-rule", required=True, choices=["spark-3.2", "spark-3.4"])
    ap.add_argument("--generated", type=int, default=12)
    ap.add_argument("--seed", type=int, default=14,
                    help="the generated cases' seed (run.sh gives each Spark version its own)")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--concurrency", type=int, default=3)
    ap.add_argument("--expect-differences", action="store_true",
                    help="succeed only if some rows differ (the wrong-rule check)")
    ap.add_argument("--staging", type=int, default=300,
                    help="generated values for the Spark-exact staging check (0: no staging)")
    a = ap.parse_args()
    began = time.monotonic()
    wrong = os.environ.get("KAPPA_SPARK_WRONG_LATE_RULE") == "1"
    kappa_rule = a.late_rule
    if wrong:
        kappa_rule = "spark-3.4" if a.late_rule == "spark-3.2" else "spark-3.2"
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)

    import pyspark
    import spark_side
    print(f"spark_conformance: PySpark {pyspark.__version__}, Python {sys.version.split()[0]}; "
          f"Spark's rule {a.late_rule}, kappa runs with late_rule {kappa_rule}"
          + (" (KAPPA_SPARK_WRONG_LATE_RULE=1: the WRONG rule)" if wrong else ""), flush=True)
    all_cases = [c for c in cases(a.scenarios, a.generated, a.seed) if a.only in c[0]]

    # kappa first: every case's batches and tables.
    jobs = []  # (case, query, kappa rows, zone, work)
    for (name, scenario, src) in all_cases:
        work = os.path.join(a.work, name.replace("/", "_"))
        translated, queries = kappa_side.translate(scenario, src, kappa_rule)
        tables = kappa_side.run(a.kappa, translated, queries, work)
        zone = translated.get("pipeline", {}).get("zone", "Asia/Seoul")
        for q in queries:
            if q.batches:
                jobs.append((name, q, tables[q.table], zone, os.path.join(work, "spark-" + q.id)))
    kappa_done = time.monotonic()

    spark = spark_side.session(a.work)
    spark.sparkContext.setLogLevel("ERROR")
    session_up = time.monotonic()

    # The stage job in Spark-exact mode against the lab's stage code (staging.py).
    stage_values, stage_diffs, stage_jdk = [], [], 0
    if a.staging > 0:
        import staging
        source_dir = os.path.dirname(os.path.abspath(a.scenarios))
        minor = ".".join(pyspark.__version__.split(".")[:2])
        stage_values = (staging.testdata_values(source_dir, minor)
                        + staging.generated_values(a.seed, a.staging))
        wrong_mode = os.environ.get("KAPPA_SPARK_WRONG_STAGE_MODE") == "1"
        kappa_rows = staging.kappa_staged(a.kappa, stage_values, os.path.join(a.work, "staging"),
                                          mode="dead-letter" if wrong_mode else "spark")
        spark_rows = staging.spark_staged(spark, stage_values,
                                          os.path.join(source_dir, "fixtures"))
        stage_diffs, stage_jdk = staging.compare(stage_values, kappa_rows, spark_rows)
        print(f"  {'ok' if not stage_diffs else 'DIFFERENT':9} staging: {len(stage_values)} values "
              f"({len(stage_values) - a.staging} hand-picked, {a.staging} generated), "
              f"{len(stage_diffs)} staged differently, {stage_jdk} only by JDK 17's float "
              "printing (documented)"
              + (" (KAPPA_SPARK_WRONG_STAGE_MODE=1: kappa in dead-letter mode)" if wrong_mode else ""),
              flush=True)
        for v, k, sp in stage_diffs[:20]:
            print(f"    staging {v!r}:\n      kappa {k}\n      spark {sp}")
    staged_done = time.monotonic()

    results = {}  # case -> [rows compared, differing rows, batch differences, batches]
    details = []
    pending, active = deque(jobs), deque()
    late_total = 0
    while pending or active:
        while pending and len(active) < a.concurrency:
            name, q, krows, zone, work = pending.popleft()
            active.append((name, q, krows, spark_side.SparkRun(spark, q, zone, work)))
        name, q, krows, run = active.popleft()
        srows, facts = run.finish()
        compared, row_diffs = compare_tables(krows, srows)
        batch_diffs = compare_batches(q, facts)
        late = sum(b.late_groups for b in q.batches)
        print(f"  . {name} {q.id}: {len(q.batches)} batches, {compared} rows, "
              f"{len(row_diffs)} differing, {late} late groups", flush=True)
        late_total += late
        r = results.setdefault(name, [0, 0, 0, 0, []])
        r[0] += compared
        r[1] += len(row_diffs)
        r[2] += len(batch_diffs)
        r[3] += len(q.batches)
        r[4].append(f"{q.id} ({q.output_mode}, {q.dimension}, window {q.window_ms}/{q.slide_ms}"
                    f"+{q.offset_ms} ms, watermark {q.watermark_ms} ms)")
        for d in row_diffs[:20] + batch_diffs[:20]:
            details.append(f"    {name} {q.id}: {d}")
    spark.stop()

    for name, _, _ in all_cases:
        r = results.get(name, [0, 0, 0, 0, []])
        status = "ok" if r[1] == 0 and r[2] == 0 else "DIFFERENT"
        print(f"  {status:9} {name}: {r[3]} batches, {r[0]} rows compared, {r[1]} differing rows, "
              f"{r[2]} batch differences; {'; '.join(r[4])}")
    for d in details[:200]:
        print(d)
    rows = sum(r[0] for r in results.values())
    differing = sum(r[1] for r in results.values())
    batch_diffs = sum(r[2] for r in results.values())
    batches = sum(r[3] for r in results.values())
    end = time.monotonic()
    n_bundled = sum(1 for c in all_cases if c[0].startswith("bundled/"))
    print(f"spark_conformance summary: Spark {pyspark.__version__} ({a.late_rule}): "
          f"{len(all_cases)} cases ({n_bundled} bundled, {len(all_cases) - n_bundled} generated "
          f"or probe), {len(jobs)} queries, {batches} batches, {rows} rows compared, "
          f"{differing} differing rows, {batch_diffs} batch differences ({late_total} late groups "
          f"dropped as late); staging: {len(stage_values)} values, {len(stage_diffs)} staged "
          f"differently ({stage_jdk} more by JDK 17's float printing only); wall {end - began:.1f} s "
          f"(kappa {kappa_done - began:.1f} s, Spark session start {session_up - kappa_done:.1f} s, "
          f"staging {staged_done - session_up:.1f} s, Spark queries {end - staged_done:.1f} s)",
          flush=True)
    if a.expect_differences:
        if differing + len(stage_diffs) > 0:
            print("spark_conformance: the wrong rule or mode was detected "
                  f"({differing} differing rows, {len(stage_diffs)} staged differently), as it "
                  "must be")
            return 0
        print("spark_conformance: FAILED to detect the wrong rule or mode (no differences)")
        return 1
    return 0 if differing == 0 and batch_diffs == 0 and not stage_diffs else 1


if __name__ == "__main__":
    sys.exit(main())
