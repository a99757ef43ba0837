"""The kappa side of the Spark conformance suite: scenario files in, batches and tables out.

A case is a scenario file. For each of its aggregation queries (the pipeline's aggregations and
the accepted recoveries) this module runs `kappa run --trace` and `kappa record` on it and gives:
the query's parameters, the records of `events_stages` that each micro-batch read (from the trace's
offset ranges and the recorded topic), the watermark and late groups of each batch, and the table
kappa wrote (read from its SQLite file).
"""

import copy
import json
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_START = "2022-09-30 16:42:00"


def load_jsonc(path):
    """A scenario file: JSON with // and /* */ comments and trailing commas."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            i = text.index("*/", i + 2) + 2
        else:
            out.append(c)
            i += 1
    cleaned = "".join(out)
    # Trailing commas, outside strings (strings were copied verbatim, so split around them).
    parts = re.split(r'("(?:[^"\\]|\\.)*")', cleaned)
    for k in range(0, len(parts), 2):
        parts[k] = re.sub(r",(\s*[}\]])", r"\1", parts[k])
    return json.loads("".join(parts))


_UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
_WORDS = {"millisecond": 1, "second": 1000, "minute": 60000, "hour": 3600000, "day": 86400000}


def duration_ms(text):
    """Durations as scenarios write them: 500ms, 5s, 1m30s, 2h, 1d, "10 seconds", "1 minute"."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+)\s+(millisecond|second|minute|hour|day)s?", t)
    if m:
        return int(m.group(1)) * _WORDS[m.group(2)]
    total, pos = 0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h|d)", t):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError(f"bad duration {text!r}")
    return total


@dataclass
class Query:
    """One aggregation query of a scenario, as the lab's Spark job would be configured."""
    id: str
    table: str
    dimension: str = "user_name"
    window_ms: int = 10000
    slide_ms: int = 10000
    offset_ms: int = 0
    watermark_ms: int = 15000
    output_mode: str = "append"
    late_rule: str = "spark-3.2"
    batches: list = field(default_factory=list)  # of Batch


@dataclass
class Batch:
    id: int
    ranges: list        # [(partition, from, to)]
    watermark_ms: int   # the watermark the batch ran with
    late_groups: int
    written: int
    values: list = field(default_factory=list)  # the events_stages values it read


def _query(spec):
    table = spec["table"]
    q = Query(id=spec.get("query", table), table=table)
    q.dimension = spec.get("dimension", q.dimension)
    if "window" in spec:
        q.window_ms = q.slide_ms = duration_ms(spec["window"])
    if "slide" in spec:
        q.slide_ms = duration_ms(spec["slide"])
    if "window_offset" in spec:
        q.offset_ms = duration_ms(spec["window_offset"])
    if "watermark" in spec:
        q.watermark_ms = duration_ms(spec["watermark"])
    q.output_mode = spec.get("output_mode", q.output_mode)
    q.late_rule = spec.get("late_rule", q.late_rule)
    return q


def excluded_reason(scenario):
    """Why a bundled scenario is not a conformance case (restarts and faults), or None."""
    for action in scenario.get("actions", []):
        (kind,) = action.keys()
        if kind in ("restart", "fault"):
            return kind
    return None


def translate(scenario, source_dir, late_rule):
    """The scenario as the conformance run needs it: every aggregation and recovery with
    `late_rule`, no expectations or comparisons (they do not change what runs), and paths made
    absolute. Returns (scenario, [Query])."""
    s = copy.deepcopy(scenario)
    pipeline = s.setdefault("pipeline", {})
    aggs = pipeline.get("aggregations")
    if aggs is None:
        aggs = pipeline["aggregations"] = [{"table": "events_users_v1"}]
    queries = []
    for a in aggs:
        a["late_rule"] = late_rule
        queries.append(_query(a))
    fixtures = pipeline.get("fixtures")
    if fixtures:
        for k, v in fixtures.items():
            fixtures[k] = os.path.abspath(os.path.join(source_dir, v))
    actions = []
    for action in s.get("actions", []):
        (kind, body), = action.items()
        if kind in ("expect", "compare"):
            continue
        if kind == "recover" and "expect_error" not in body:
            body["late_rule"] = late_rule
            queries.append(_query(body))
        if kind == "replay":
            body["file"] = os.path.abspath(os.path.join(source_dir, body["file"]))
        actions.append(action)
    s["actions"] = actions
    return s, queries


_LINE = re.compile(
    r"^\[[^\]]+\] (?P<q>\S+) batch (?P<b>\d+)(?P<rerun> \(re-run[^)]*\))?: read (?P<n>\d+)"
    r"(?: \(partition:\[from,to\)(?P<ranges>(?: \d+:\[\d+,\d+\))+)\))?"
    r"(?:, watermark (?P<w0>[^,]+?) -> (?P<w1>[^,]+?), late (?P<late>\d+)(?: \((?P<lg>\d+) groups\))?)?"
    r", dead letters \d+, written (?P<wr>\d+)")


def _instant_ms(text, zone):
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    return int(datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


class KappaError(Exception):
    pass


def run(kappa, scenario, queries, work):
    """Runs the translated scenario on kappa; fills each query's batches (with the values they
    read) and returns {table: [(start, end, value, count)]}."""
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "scenario.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(scenario, f, ensure_ascii=False, indent=1)
    db = os.path.join(work, "kappa.sqlite")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    r = subprocess.run([kappa, "run", "--trace", "--sink", "sqlite:" + db, path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise KappaError(f"kappa run {path}: exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    pipeline = scenario.get("pipeline", {})
    zone = pipeline.get("zone", "Asia/Seoul")
    stages = pipeline.get("topics", {}).get("events_stages", {}).get("name", "events_stages")
    capture = os.path.join(work, "events_stages.jsonl")
    rec = subprocess.run([kappa, "record", "--topic", stages, "--out", capture, path],
                         capture_output=True, text=True)
    if rec.returncode != 0:
        raise KappaError(f"kappa record {path}: exit {rec.returncode}\n{rec.stderr[-2000:]}")
    records = {}
    with open(capture, encoding="utf-8") as f:
        for line in f:
            r_ = json.loads(line)
            records[(r_["partition"], r_["offset"])] = r_["value"]
    by_id = {q.id: q for q in queries}
    for line in r.stdout.splitlines():
        m = _LINE.match(line)
        if not m or m.group("q") not in by_id:
            continue
        if m.group("rerun"):
            raise KappaError(f"{path}: a re-run batch, not a conformance case: {line}")
        ranges = [tuple(int(x) for x in re.findall(r"\d+", part))
                  for part in (m.group("ranges") or "").split()]
        b = Batch(id=int(m.group("b")), ranges=ranges,
                  watermark_ms=_instant_ms(m.group("w0"), zone) if m.group("w0") else 0,
                  late_groups=int(m.group("lg") or 0), written=int(m.group("wr")))
        for (p, lo, hi) in ranges:
            b.values.extend(records[(p, o)] for o in range(lo, hi))
        if len(b.values) != int(m.group("n")):
            raise KappaError(f"{path}: batch read {m.group('n')} records, the capture has {len(b.values)}")
        by_id[m.group("q")].batches.append(b)
    # On a file sink, each run prefixes its tables ("tables in sqlite:PATH are prefixed k..._").
    m = re.search(r"are prefixed (\S+)", r.stdout)
    prefix = m.group(1) if m else ""
    tables = {}
    con = sqlite3.connect(db)
    try:
        for q in queries:
            if not q.batches:
                continue
            cur = con.execute(f'SELECT "start", "end", "{q.dimension}", "count" FROM "{prefix}{q.table}"')
            tables[q.table] = [tuple(row) for row in cur.fetchall()]
    finally:
        con.close()
    return tables
