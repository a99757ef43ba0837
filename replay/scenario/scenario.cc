#include "replay/scenario/scenario.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>

#include "pipeline/codec/input_file.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/scenario/capture.h"

namespace kappa {

ScenarioLimits ScenarioLimits::scaled(int64_t factor) const {
  auto up = [factor](int64_t v) {
    if (factor <= 1) return v;
    return v > INT64_MAX / factor ? INT64_MAX : v * factor;
  };
  ScenarioLimits l = *this;
  for (int64_t* v : {&l.max_scenario_bytes, &l.max_actions, &l.max_input_file_bytes, &l.max_events,
                     &l.max_event_bytes, &l.max_windows_per_event, &l.max_window_rows,
                     &l.max_queries, &l.max_simulated_ms, &l.max_trigger_reads}) {
    *v = up(*v);
  }
  return l;
}

std::string Where::to_string() const {
  return file + ":" + std::to_string(location.line) + ":" + std::to_string(location.column);
}

namespace {

using Json = nlohmann::ordered_json;

// Thrown inside this file only; parse_scenario() turns it into a Status.
struct Invalid {
  Status status;
};

std::string type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number with a fraction";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "a value";
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// A value of the document with its JSON pointer.
class Node {
 public:
  Node(const JsonDocument& doc, const Json& value, std::string pointer)
      : doc_(&doc), value_(&value), pointer_(std::move(pointer)) {}

  const Json& json() const { return *value_; }
  const std::string& pointer() const { return pointer_; }
  const JsonDocument& doc() const { return *doc_; }
  Where where() const { return Where{doc_->path(), doc_->location(pointer_), pointer_}; }

  [[noreturn]] void fail(std::string_view message) const {
    throw Invalid{doc_->error_at(pointer_, message)};
  }
  [[noreturn]] void expected(std::string_view what) const {
    fail("expected " + std::string(what) + ", found " + type_name(*value_));
  }

  Node child(std::string_view key) const {
    return Node(*doc_, value_->at(std::string(key)), pointer_ + "/" + json_pointer_token(key));
  }
  std::vector<Node> elements() const {
    if (!value_->is_array()) expected("an array");
    std::vector<Node> out;
    for (size_t i = 0; i < value_->size(); ++i) {
      out.emplace_back(*doc_, (*value_)[i], pointer_ + "/" + std::to_string(i));
    }
    return out;
  }
  std::string str() const {
    if (!value_->is_string()) expected("a string");
    return value_->get<std::string>();
  }
  int64_t integer(int64_t min = INT64_MIN, int64_t max = INT64_MAX) const {
    if (!value_->is_number_integer()) expected("an integer");
    const auto v = value_->get<int64_t>();
    if (v < min || v > max) {
      fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
           ", found " + std::to_string(v));
    }
    return v;
  }
  bool boolean() const {
    if (!value_->is_boolean()) expected("true or false");
    return value_->get<bool>();
  }
  int64_t duration() const {
    auto d = parse_duration(str());
    if (!d) fail(d.status().message());
    if (*d > kMaxClockMs) {
      fail("duration \"" + str() + "\" is out of range: expected at most " +
           std::to_string(kMaxClockMs) + " ms, the span from 1970 to the end of 9999");
    }
    return *d;
  }
  int64_t time(const TimeZone& zone) const {
    auto t = parse_timestamp(str(), zone);
    if (!t) fail(t.status().message());
    if (*t < kMinClockMs || *t > kMaxClockMs) {
      fail("time \"" + str() +
           "\" is out of range: the simulated clock runs from 1970-01-01 00:00:00 UTC to "
           "9999-12-31 23:59:59.999 UTC");
    }
    return *t;
  }

 private:
  const JsonDocument* doc_;
  const Json* value_;
  std::string pointer_;
};

// An object's members, every key checked against the allowed ones.
class Members {
 public:
  Members(const Node& node, std::string what, std::initializer_list<std::string_view> allowed)
      : node_(node) {
    if (!node.json().is_object()) node.expected("an object (" + what + ")");
    for (const auto& [key, _] : node.json().items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string message = "unknown key \"" + key + "\" in " + what;
      std::string_view best;
      size_t best_distance = 3;
      for (std::string_view a : allowed) {
        const size_t d = edit_distance(key, a);
        if (d < best_distance) {
          best_distance = d;
          best = a;
        }
      }
      if (!best.empty()) message += "; did you mean \"" + std::string(best) + "\"?";
      message += " Expected one of:";
      for (std::string_view a : allowed) message += " " + std::string(a);
      const std::string pointer = node.pointer() + "/" + json_pointer_token(key);
      throw Invalid{node.doc().error_at_key(pointer, message)};
    }
  }

  std::optional<Node> get(std::string_view key) const {
    if (!node_.json().contains(std::string(key))) return std::nullopt;
    return node_.child(key);
  }
  Node require(std::string_view key, std::string_view what) const {
    if (auto n = get(key)) return *n;
    node_.fail("missing key \"" + std::string(key) + "\" (" + std::string(what) + ")");
  }
  const Node& node() const { return node_; }

 private:
  Node node_;
};

constexpr const char* kRaise = " (kappa run --limits-scale N raises the limits)";

// The windows an event falls in, at most (window.h).
int64_t windows_per_event(const WindowSpec& w) { return (w.size_ms + w.slide_ms - 1) / w.slide_ms; }

OutputMode output_mode(const Node& n) {
  const std::string s = n.str();
  if (s == "append") return OutputMode::kAppend;
  if (s == "update") return OutputMode::kUpdate;
  if (s == "complete") return OutputMode::kComplete;
  n.fail("expected \"append\", \"update\" or \"complete\", found \"" + s + "\"");
}

LateRule late_rule(const Node& n) {
  const std::string s = n.str();
  if (s == "spark-3.2") return LateRule::kSpark32;
  if (s == "spark-3.4") return LateRule::kSpark34;
  n.fail(
      "expected \"spark-3.2\" (late against the batch's own watermark) or \"spark-3.4\" "
      "(against the previous batch's), found \"" +
      s + "\"");
}

StartingPosition starting(const Node& n, const TimeZone& zone) {
  StartingPosition p;
  if (n.json().is_string()) {
    const std::string s = n.str();
    if (s == "latest") return p;
    if (s == "earliest") {
      p.kind = StartingPosition::Kind::kEarliest;
      return p;
    }
    n.fail(
        "expected \"latest\", \"earliest\", {\"timestamp\": ...} or {\"offsets\": {...}}, found "
        "\"" +
        s + "\"");
  }
  Members m(n, "starting offsets", {"timestamp", "offsets"});
  if (auto t = m.get("timestamp")) {
    p.kind = StartingPosition::Kind::kTimestamp;
    p.timestamp_ms = t->time(zone);
    if (m.get("offsets")) n.fail("give either \"timestamp\" or \"offsets\", not both");
    return p;
  }
  Node offsets = m.require("offsets", "a map from partition to offset, like {\"0\": 42}");
  if (!offsets.json().is_object()) offsets.expected("an object like {\"0\": 42}");
  p.kind = StartingPosition::Kind::kOffsets;
  for (const auto& [key, _] : offsets.json().items()) {
    const Node value = offsets.child(key);
    int32_t partition = -1;
    try {
      size_t used = 0;
      partition = std::stoi(key, &used);
      if (used != key.size() || partition < 0) partition = -1;
    } catch (const std::exception&) {
      partition = -1;
    }
    if (partition < 0) value.fail("expected a partition number as the key, found \"" + key + "\"");
    p.offsets.push_back({partition, value.integer(0)});
  }
  return p;
}

QueryOptions query_options(const Members& m, const TimeZone& zone) {
  QueryOptions o;
  if (auto t = m.get("trigger")) {
    o.trigger_ms = t->duration();
    if (*o.trigger_ms <= 0) t->fail("expected a positive trigger interval");
  }
  if (auto s = m.get("starting_offsets")) o.starting = starting(*s, zone);
  if (auto r = m.get("max_records_per_batch")) o.max_records_per_batch = r->integer(1);
  return o;
}

AggregationConfig aggregation(const Members& m, const Node& n, const TimeZone& zone,
                              const ScenarioLimits& limits) {
  AggregationConfig a;
  const Node table = m.require("table", "the table to write, like \"events_users_v1\"");
  a.spec.table = table.str();
  if (Status s = validate_identifier(a.spec.table, "table name"); !s) table.fail(s.message());
  if (auto q = m.get("query")) a.spec.query = q->str();
  if (auto d = m.get("dimension")) {
    a.spec.dimension = d->str();
    if (auto f = dimension_field(a.spec.dimension); !f) d->fail(f.status().message());
  }
  if (auto w = m.get("window")) a.spec.window.size_ms = w->duration();
  a.spec.window.slide_ms = a.spec.window.size_ms;
  if (auto s = m.get("slide")) a.spec.window.slide_ms = s->duration();
  if (auto o = m.get("window_offset")) a.spec.window.offset_ms = o->duration();
  if (Status s = validate(a.spec.window); !s) n.fail(s.message());
  const int64_t windows = windows_per_event(a.spec.window);
  if (windows > limits.max_windows_per_event) {
    const Node at = m.get("slide").value_or(m.get("window").value_or(n));
    at.fail("window " + format_duration(a.spec.window.size_ms) + " with slide " +
            format_duration(a.spec.window.slide_ms) + " puts every event in " +
            std::to_string(windows) + " windows, more than the limit max_windows_per_event of " +
            std::to_string(limits.max_windows_per_event) + kRaise);
  }
  if (auto w = m.get("watermark")) a.spec.watermark_delay_ms = w->duration();
  if (auto o = m.get("output_mode")) a.spec.mode = output_mode(*o);
  if (auto l = m.get("late_rule")) a.spec.late_rule = late_rule(*l);
  a.options = query_options(m, zone);
  return a;
}

std::string resolve_path(const std::string& scenario_path, const std::string& relative) {
  std::filesystem::path p(relative);
  if (p.is_absolute()) return relative;
  return (std::filesystem::path(scenario_path).parent_path() / p).lexically_normal().string();
}

void parse_pipeline(const Node& n, const std::string& path, PipelineConfig& c,
                    const ScenarioLimits& limits) {
  Members m(n, "the pipeline",
            {"zone", "trigger", "topics", "fixtures", "stage", "aggregations", "max_record_bytes"});
  if (auto z = m.get("zone")) {
    c.zone = z->str();
    if (auto tz = TimeZone::load(c.zone); !tz) z->fail(tz.status().message());
  }
  const TimeZone zone = TimeZone::load(c.zone).value();
  if (auto t = m.get("trigger")) {
    c.trigger_ms = t->duration();
    if (c.trigger_ms <= 0) t->fail("expected a positive trigger interval");
  }
  if (auto topics = m.get("topics")) {
    Members tm(*topics, "topics", {"events", "events_stages", "events_dlq"});
    auto topic = [&](std::string_view key, TopicConfig& t) {
      if (auto tn = tm.get(key)) {
        Members fields(*tn, "a topic", {"name", "partitions"});
        if (auto name = fields.get("name")) {
          t.name = name->str();
          if (Status s = validate_topic_name(t.name); !s) name->fail(s.message());
        }
        if (auto p = fields.get("partitions"))
          t.partitions = static_cast<int32_t>(p->integer(1, 1000));
      }
    };
    topic("events", c.events);
    topic("events_stages", c.stages);
    topic("events_dlq", c.dlq);
  }
  if (auto f = m.get("fixtures")) {
    Members fm(*f, "fixtures", {"names", "depts"});
    const InputFileLimit limit{static_cast<size_t>(limits.max_input_file_bytes),
                               "max_input_file_bytes"};
    auto fixture = [&](std::string_view key, std::optional<std::string>& out) {
      if (auto file = fm.get(key)) {
        out = resolve_path(path, file->str());
        // A missing file is reported when the pipeline loads it; one that is there is checked now.
        std::error_code ec;
        if (!std::filesystem::exists(*out, ec)) return;
        if (Status st = check_input_file(*out, "fixture file", limit, /*regular_only=*/true); !st) {
          file->fail(std::string(key) + ": " + st.message());
        }
      }
    };
    fixture("names", c.names_fixture);
    fixture("depts", c.depts_fixture);
    c.max_fixture_bytes = limit.max_bytes;
  }
  if (auto s = m.get("stage")) {
    Members sm(*s, "the stage job",
               {"enabled", "mode", "trigger", "starting_offsets", "max_records_per_batch"});
    if (auto e = sm.get("enabled")) c.stage_enabled = e->boolean();
    if (auto md = sm.get("mode")) {
      auto mode = parse_stage_mode(md->str());
      if (mode) {
        c.stage_mode = *mode;
      } else {
        md->fail(mode.status().message());
      }
    }
    c.stage = query_options(sm, zone);
  }
  if (auto b = m.get("max_record_bytes"))
    c.max_record_bytes = static_cast<size_t>(b->integer(64, 1 << 30));
  if (auto aggs = m.get("aggregations")) {
    c.aggregations.clear();
    for (const Node& a : aggs->elements()) {
      Members am(
          a, "an aggregation",
          {"table", "query", "dimension", "window", "slide", "window_offset", "watermark",
           "output_mode", "late_rule", "trigger", "starting_offsets", "max_records_per_batch"});
      c.aggregations.push_back(aggregation(am, a, zone, limits));
    }
  }
  if (Status s = validate(c); !s) n.fail(s.message());
}

GenerateStep generate(const Node& n) {
  Members m(n, "generate", {"rate", "count", "first_id", "hello", "topic"});
  GenerateStep g;
  if (auto r = m.get("rate")) g.spec.rate = r->integer(1, 1000000);
  if (auto c = m.get("count")) g.spec.count = c->integer(0);
  if (auto f = m.get("first_id")) g.spec.first_id = f->integer();
  if (auto h = m.get("hello")) {
    if (h->json().is_null())
      g.spec.hello.reset();
    else
      g.spec.hello = h->str();
  }
  if (auto t = m.get("topic"))
    g.spec.topic = t->str();
  else
    g.spec.topic.clear();  // the pipeline's events topic
  return g;
}

ProduceStep produce(const Node& n, const PipelineConfig& c, const TimeZone& zone) {
  Members m(n, "produce",
            {"topic", "key", "partition", "event", "value", "raw", "raw_base64", "null_value",
             "timestamp", "at", "repeat"});
  ProduceStep p;
  p.topic = c.events.name;
  if (auto t = m.get("topic")) p.topic = t->str();
  if (auto k = m.get("key")) {
    if (!k->json().is_null()) p.key = k->str();
  }
  if (auto part = m.get("partition")) p.partition = static_cast<int32_t>(part->integer(0, 1000));
  if (auto ts = m.get("timestamp")) p.timestamp_ms = ts->time(zone);
  if (auto at = m.get("at")) p.at_ms = at->time(zone);
  if (auto r = m.get("repeat")) p.repeat = r->integer(1, 10000000);
  int forms = 0;
  if (auto e = m.get("event")) {
    ++forms;
    Members em(*e, "an event", {"id", "time", "time_ago", "hello"});
    ProduceStep::Event ev;
    ev.id = em.require("id", "the event's id").integer();
    if (auto t = em.get("time")) ev.time = t->str();
    if (auto ago = em.get("time_ago")) {
      if (ev.time) ago->fail("give either \"time\" or \"time_ago\", not both");
      ev.time_ago_ms = ago->duration();
    }
    if (!ev.time && !ev.time_ago_ms) ev.time_ago_ms = 0;
    if (auto h = em.get("hello")) {
      if (h->json().is_null())
        ev.hello.reset();
      else
        ev.hello = h->str();
    }
    p.event = ev;
  }
  if (auto v = m.get("value")) {
    ++forms;
    p.value = v->json().dump();
  }
  if (auto raw = m.get("raw")) {
    ++forms;
    p.value = raw->str();
  }
  if (auto raw = m.get("raw_base64")) {
    ++forms;
    auto bytes = base64_decode(raw->str());
    if (bytes) {
      p.value = std::move(*bytes);
    } else {
      raw->fail("expected base64 (the value's bytes): " + bytes.status().message());
    }
  }
  if (auto nv = m.get("null_value")) {
    ++forms;
    if (!nv->boolean()) nv->fail("expected true (a record with a null value)");
  }
  if (forms != 1) {
    n.fail(
        "give exactly one of \"event\" (an events record), \"value\" (any JSON), \"raw\" (the "
        "bytes of a string), \"raw_base64\" (any bytes) or \"null_value\": true");
  }
  return p;
}

AdvanceStep advance(const Node& n, const TimeZone& zone) {
  AdvanceStep a;
  if (n.json().is_string()) {
    a.by_ms = n.duration();
    return a;
  }
  Members m(n, "advance", {"by", "to"});
  if (auto by = m.get("by")) a.by_ms = by->duration();
  if (auto to = m.get("to")) a.to_ms = to->time(zone);
  if (a.by_ms.has_value() == a.to_ms.has_value()) {
    n.fail("give a duration (\"10m\"), {\"by\": \"10m\"} or {\"to\": \"2022-09-30 16:52:00\"}");
  }
  return a;
}

ExpectedRow expected_row(const Node& n, const TimeZone& zone) {
  const auto cells = n.elements();
  if (cells.size() != 4) {
    n.fail("expected a row [start, end, dimension value, count], found " +
           std::to_string(cells.size()) + " values");
  }
  ExpectedRow r;
  r.where = n.where();
  r.row.start = format_timestamp_ms(cells[0].time(zone), zone);
  r.row.end = format_timestamp_ms(cells[1].time(zone), zone);
  const Json& dim = cells[2].json();
  if (dim.is_null())
    r.row.dim = std::monostate{};
  else if (dim.is_number_integer())
    r.row.dim = dim.get<int64_t>();
  else if (dim.is_string())
    r.row.dim = dim.get<std::string>();
  else
    cells[2].expected("a string, an integer or null");
  r.row.count = cells[3].integer(0);
  return r;
}

std::string identifier(const Node& n, std::string_view what) {
  std::string v = n.str();
  if (Status st = validate_identifier(v, what); !st) n.fail(st.message());
  return v;
}

ExpectTableStep expect_table(const Members& m, const Node& n, const TimeZone& zone) {
  ExpectTableStep t;
  t.table = identifier(m.require("table", "the table to check"), "table name");
  auto rows = [&](const Node& list) {
    std::vector<ExpectedRow> out;
    for (const Node& r : list.elements()) out.push_back(expected_row(r, zone));
    return out;
  };
  if (auto r = m.get("rows")) t.rows = rows(*r);
  if (auto c = m.get("contains")) t.contains = rows(*c);
  if (auto a = m.get("absent")) t.absent = rows(*a);
  if (auto c = m.get("row_count")) t.row_count = c->integer(0);
  if (!t.rows && t.contains.empty() && t.absent.empty() && !t.row_count) {
    n.fail("say what to expect of the table: \"rows\", \"contains\", \"absent\" or \"row_count\"");
  }
  return t;
}

ExpectTopicStep expect_topic(const Members& m, const Node& n) {
  ExpectTopicStep t;
  t.topic = m.require("topic", "the topic to check").str();
  if (auto p = m.get("partition")) t.partition = static_cast<int32_t>(p->integer(0, 1000));
  if (auto c = m.get("count")) t.count = c->integer(0);
  auto values = [](const Node& list) {
    std::vector<ExpectedValue> out;
    for (const Node& v : list.elements()) out.push_back({v.json(), v.where()});
    return out;
  };
  if (auto v = m.get("values")) t.values = values(*v);
  if (auto c = m.get("contains")) t.contains = values(*c);
  if (!t.count && !t.values && t.contains.empty()) {
    n.fail("say what to expect of the topic: \"count\", \"values\" or \"contains\"");
  }
  return t;
}

ExpectDeadLettersStep expect_dead_letters(const Node& n) {
  Members m(n, "dead_letters", {"count", "reasons"});
  ExpectDeadLettersStep d;
  if (auto c = m.get("count")) d.count = c->integer(0);
  if (auto r = m.get("reasons")) {
    Members rm(*r, "dead-letter reasons",
               {"not_json", "not_object", "missing_field", "wrong_type", "out_of_range", "bad_time",
                "oversize"});
    for (const auto& [reason, _] : r->json().items())
      d.reasons.emplace_back(reason, r->child(reason).integer(0));
  }
  if (!d.count && d.reasons.empty()) n.fail("say what to expect: \"count\" or \"reasons\"");
  return d;
}

ExpectMetricsStep expect_metrics(const Node& n, const TimeZone& zone) {
  Members m(n, "metrics",
            {"query", "watermark", "batches", "rows_in", "rows_out", "dead_letters",
             "dropped_as_late", "late_groups", "failed_attempts", "state"});
  ExpectMetricsStep e;
  e.query = m.require("query", "the query whose metrics to check").str();
  if (auto w = m.get("watermark")) e.watermark_ms = w->time(zone);
  auto count = [&](std::string_view key, std::optional<int64_t>& out) {
    if (auto v = m.get(key)) out = v->integer(0);
  };
  count("batches", e.batches);
  count("rows_in", e.rows_in);
  count("rows_out", e.rows_out);
  count("dead_letters", e.dead_letters);
  count("dropped_as_late", e.dropped_as_late);
  count("late_groups", e.late_groups);
  count("failed_attempts", e.failed_attempts);
  if (auto st = m.get("state")) {
    e.state = st->str();
    if (*e.state != "running" && *e.state != "crashed" && *e.state != "stopped") {
      st->fail("expected \"running\", \"crashed\" or \"stopped\", found \"" + *e.state + "\"");
    }
  }
  return e;
}

ExpectStep expect(const Node& n, const TimeZone& zone, std::string& label) {
  if (!n.json().is_object()) n.expected("an object (expect)");
  static const std::pair<std::string_view, std::string_view> kKinds[] = {
      {"table", "table"},
      {"topic", "topic"},
      {"dead_letters", "dead letters"},
      {"metrics", "metrics"},
      {"balanced", "balanced counts"},
      {"caught_up", "catch-up"},
      {"view", "view"}};
  std::string kind;
  for (const auto& [key, _] : kKinds) {
    if (n.json().contains(std::string(key))) {
      if (!kind.empty())
        n.fail("expect one thing at a time: found both \"" + kind + "\" and \"" + std::string(key) +
               "\"");
      kind = key;
    }
  }
  if (kind.empty()) {
    Members any(n, "expect",
                {"table", "topic", "dead_letters", "metrics", "balanced", "caught_up", "view"});
    n.fail(
        "say what to expect: one of \"table\", \"topic\", \"dead_letters\", \"metrics\", "
        "\"balanced\", "
        "\"caught_up\" or \"view\"");
  }
  if (kind == "table") {
    Members m(n, "expect (table)", {"table", "rows", "contains", "absent", "row_count"});
    ExpectTableStep t = expect_table(m, n, zone);
    label = "expect table " + t.table;
    return t;
  }
  if (kind == "topic") {
    Members m(n, "expect (topic)", {"topic", "partition", "count", "values", "contains"});
    ExpectTopicStep t = expect_topic(m, n);
    label = "expect topic " + t.topic;
    return t;
  }
  if (kind == "dead_letters") {
    Members m(n, "expect (dead letters)", {"dead_letters"});
    label = "expect dead letters";
    return expect_dead_letters(n.child("dead_letters"));
  }
  if (kind == "metrics") {
    Members m(n, "expect (metrics)", {"metrics"});
    ExpectMetricsStep e = expect_metrics(n.child("metrics"), zone);
    label = "expect metrics of " + e.query;
    return e;
  }
  if (kind == "balanced") {
    Members m(n, "expect (balanced)", {"balanced"});
    if (!n.child("balanced").boolean()) n.child("balanced").fail("expected true");
    label = "expect balanced counts";
    return ExpectBalancedStep{};
  }
  if (kind == "caught_up") {
    Members m(n, "expect (caught_up)", {"caught_up"});
    Members cm(n.child("caught_up"), "caught_up", {"query", "with", "value"});
    ExpectCaughtUpStep c;
    c.query = cm.require("query", "the recovering query").str();
    c.with = cm.require("with", "the query it replaces").str();
    if (auto v = cm.get("value")) c.caught_up = v->boolean();
    label =
        "expect " + c.query + (c.caught_up ? " caught up with " : " not caught up with ") + c.with;
    return c;
  }
  Members m(n, "expect (view)", {"view", "reads"});
  ExpectViewStep v;
  v.view = identifier(m.require("view", "the view"), "view name");
  v.reads = identifier(m.require("reads", "the table the view must read"), "table name");
  label = "expect view " + v.view + " reads " + v.reads;
  return v;
}

ReplayStep replay(const Node& n, const std::string& path) {
  Members m(n, "replay", {"file", "topic", "timing"});
  ReplayStep r;
  r.file = resolve_path(path, m.require("file", "a file written by kappa record").str());
  if (auto t = m.get("topic")) r.topic = t->str();
  if (auto t = m.get("timing")) {
    const std::string s = t->str();
    if (s == "relative")
      r.timing = ReplayStep::Timing::kRelative;
    else if (s == "recorded")
      r.timing = ReplayStep::Timing::kRecorded;
    else if (s == "now")
      r.timing = ReplayStep::Timing::kNow;
    else
      t->fail(
          "expected \"relative\" (keep the gaps, starting now), \"recorded\" (at the recorded "
          "times) or \"now\", found \"" +
          s + "\"");
  }
  return r;
}

FaultStep fault(const Node& n) {
  Members m(n, "fault", {"sink_unavailable", "crash", "broker_unavailable"});
  if (n.json().size() != 1)
    n.fail("give one fault: \"sink_unavailable\", \"crash\" or \"broker_unavailable\"");
  FaultStep f;
  if (auto s = m.get("sink_unavailable")) {
    Members sm(*s, "sink_unavailable", {"commits", "at", "query"});
    f.kind = FaultStep::Kind::kSinkUnavailable;
    f.commits =
        static_cast<int>(sm.require("commits", "how many commits fail").integer(1, 1000000));
    f.point = "sink.before_commit";
    if (auto at = sm.get("at")) {
      const std::string where = at->str();
      if (where == "between_rows_and_ledger")
        f.point = "sink.between_rows_and_ledger";
      else if (where != "before_rows")
        at->fail(
            "expected \"before_rows\" (the commit fails to start) or \"between_rows_and_ledger\" "
            "(the rows are "
            "written, then the transaction fails and rolls back), found \"" +
            where + "\"");
    }
    if (auto q = sm.get("query")) f.query = q->str();
  } else if (auto c = m.get("crash")) {
    Members cm(*c, "crash", {"query", "at", "after", "restart"});
    f.kind = FaultStep::Kind::kCrash;
    f.query = cm.require("query", "the query that crashes").str();
    const Node at = cm.require("at", "where in the batch");
    static const std::pair<std::string_view, std::string_view> kPoints[] = {
        {"after_plan", "query.after_plan"},
        {"before_rows", "sink.before_commit"},
        {"between_rows_and_ledger", "sink.between_rows_and_ledger"},
        {"after_commit", "sink.after_commit"},
        {"before_checkpoint", "query.before_checkpoint"}};
    const std::string where = at.str();
    for (const auto& [name, point] : kPoints) {
      if (name == where) f.point = point;
    }
    if (f.point.empty()) {
      at.fail(
          "expected one of after_plan, before_rows, between_rows_and_ledger, after_commit, "
          "before_checkpoint, found \"" +
          where + "\"");
    }
    if (f.query == "stage" && f.point.rfind("sink.", 0) == 0) {
      at.fail("the stage job writes no table; crash it at after_plan or before_checkpoint");
    }
    if (auto a = cm.get("after")) f.after = static_cast<int>(a->integer(0, 1000000));
    if (auto r = cm.get("restart")) {
      const std::string how = r->str();
      if (how == "immediately")
        f.restart_immediately = true;
      else if (how != "manual")
        r->fail("expected \"immediately\" or \"manual\" (a restart action), found \"" + how + "\"");
    }
  } else {
    Node b = *m.get("broker_unavailable");
    Members bm(b, "broker_unavailable", {"for"});
    f.kind = FaultStep::Kind::kBrokerUnavailable;
    f.duration_ms = bm.require("for", "how long the broker is down").duration();
  }
  return f;
}

RecoverStep recover(const Node& n, const TimeZone& zone, const ScenarioLimits& limits) {
  Members m(
      n, "recover",
      {"table", "query", "dimension", "window", "slide", "window_offset", "watermark",
       "output_mode", "late_rule", "trigger", "from", "max_records_per_batch", "expect_error"});
  RecoverStep r;
  r.aggregation = aggregation(m, n, zone, limits);
  r.aggregation.options.starting.kind = StartingPosition::Kind::kEarliest;
  if (auto f = m.get("from")) r.aggregation.options.starting = starting(*f, zone);
  if (auto e = m.get("expect_error")) r.expect_error = e->str();
  return r;
}

Step step(const Node& n, const Scenario& s, const TimeZone& zone) {
  if (!n.json().is_object() || n.json().size() != 1) {
    n.fail(
        "expected an action: an object with one key, like {\"advance\": \"10s\"} (actions: "
        "generate, stop, "
        "produce, replay, advance, run_until_idle, restart, fault, recover, compare, cutover, "
        "expect)");
  }
  const std::string kind = n.json().begin().key();
  Members m(n, "an action",
            {"generate", "stop", "produce", "replay", "advance", "run_until_idle", "restart",
             "fault", "recover", "compare", "cutover", "expect"});
  const Node body = n.child(kind);
  Step st;
  st.where = body.where();
  st.label = kind;
  if (kind == "generate") {
    st.action = generate(body);
  } else if (kind == "stop") {
    StopStep stop;
    if (body.json().is_string() && body.str() == "generators") {
      stop.generators = true;
    } else {
      Members sm(body, "stop", {"query"});
      stop.query = sm.require("query", "the query to stop").str();
      st.label = "stop " + *stop.query;
    }
    st.action = stop;
  } else if (kind == "produce") {
    st.action = produce(body, s.pipeline, zone);
  } else if (kind == "replay") {
    st.action = replay(body, s.path);
  } else if (kind == "advance") {
    st.action = advance(body, zone);
  } else if (kind == "run_until_idle") {
    RunUntilIdleStep r;
    if (!body.json().is_boolean() || !body.boolean()) {
      Members rm(body, "run_until_idle", {"limit"});
      r.limit_ms = rm.require("limit", "the most simulated time to run").duration();
    }
    st.action = r;
  } else if (kind == "restart") {
    RestartStep r;
    r.query =
        body.json().is_string()
            ? body.str()
            : Members(body, "restart", {"query"}).require("query", "the query to restart").str();
    st.label = "restart " + r.query;
    st.action = r;
  } else if (kind == "fault") {
    st.action = fault(body);
  } else if (kind == "recover") {
    RecoverStep r = recover(body, zone, s.limits);
    st.label = "recover into " + r.aggregation.spec.table;
    st.action = std::move(r);
  } else if (kind == "compare") {
    Members cm(body, "compare", {"tables", "expect"});
    CompareStep c;
    const auto tables =
        cm.require("tables", "the two tables, like [\"events_users_v1\", \"events_users_v2\"]")
            .elements();
    if (tables.size() != 2) cm.node().fail("expected two tables to compare");
    c.left = identifier(tables[0], "table name");
    c.right = identifier(tables[1], "table name");
    if (auto e = cm.get("expect")) {
      Members em(*e, "compare expectations", {"same", "changed", "added", "removed"});
      auto count = [&](std::string_view key, std::optional<int64_t>& out) {
        if (auto v = em.get(key)) out = v->integer(0);
      };
      count("same", c.same);
      count("changed", c.changed);
      count("added", c.added);
      count("removed", c.removed);
    }
    st.label = "compare " + c.left + " with " + c.right;
    st.action = c;
  } else if (kind == "cutover") {
    Members cm(body, "cutover", {"view", "to"});
    CutoverStep c;
    if (auto v = cm.get("view")) c.view = identifier(*v, "view name");
    c.table = identifier(cm.require("to", "the table readers move to"), "table name");
    st.label = "cut over " + c.view + " to " + c.table;
    st.action = c;
  } else {
    st.action = expect(body, zone, st.label);
  }
  return st;
}

// What a run of the steps can cost at most, worked out before it runs: the clock moves only by
// "advance" and "run_until_idle" (by at most its limit), so an upper bound of the clock at every
// step, and with it the simulated span, the records the generators emit and the trigger firings,
// are known from the file. Each step that takes a total past its limit is an error at that step.
class Budget {
 public:
  Budget(const JsonDocument& doc, const Scenario& s)
      : doc_(doc), s_(s), l_(s.limits), lo_(s.start_ms), hi_(s.start_ms) {
    const PipelineConfig& c = s.pipeline;
    if (c.stage_enabled) {
      queries_.push_back(
          {s.start_ms, c.stage.trigger_ms.value_or(c.trigger_ms), c.events.partitions});
    }
    for (const auto& a : c.aggregations) add_aggregation(a);
    if (static_cast<int64_t>(c.aggregations.size()) > l_.max_queries) {
      fail("/pipeline/aggregations", "the pipeline has " + std::to_string(c.aggregations.size()) +
                                         " aggregations, more than the limit max_queries of " +
                                         std::to_string(l_.max_queries));
    }
  }

  void step(const Step& st) {
    const std::string& at = st.where.pointer;
    std::visit(
        Overloaded{
            [&](const GenerateStep& g) {
              generators_.push_back({lo_, g.spec.rate, g.spec.count, INT64_MAX,
                                     // {"hello":"...","id":N,"time":"..."}, N of 7 digits
                                     55 + static_cast<int64_t>(g.spec.hello.value_or("").size()),
                                     st.where.location.line});
            },
            [&](const StopStep& stop) {
              if (!stop.generators) return;
              for (auto& g : generators_) g.stop_ms = std::min(g.stop_ms, hi_);
            },
            [&](const ProduceStep& p) {
              int64_t size = p.event
                                 ? 64 + static_cast<int64_t>(p.event->hello.value_or("").size() +
                                                             p.event->time.value_or("").size())
                                 : static_cast<int64_t>(p.value.value_or("").size());
              size += static_cast<int64_t>(p.key.value_or("").size());
              records_ += static_cast<double>(p.repeat);
              bytes_ += static_cast<double>(p.repeat) * static_cast<double>(size);
              if (p.event && p.event->time_ago_ms && *p.event->time_ago_ms > lo_) {
                fail(at + "/event/time_ago", "time_ago " + format_duration(*p.event->time_ago_ms) +
                                                 " goes back before 1970-01-01 00:00:00 UTC, where "
                                                 "the simulated clock begins");
              }
              check_records(at + (p.repeat > 1 ? "/repeat" : ""), "this produce step");
            },
            [&](const AdvanceStep& a) {
              if (a.by_ms) {
                if (*a.by_ms > kMaxClockMs - hi_) {
                  fail(at,
                       "advancing by " + format_duration(*a.by_ms) +
                           " is out of range: the clock (at most " +
                           format_timestamp_ms(hi_, utc()) +
                           " UTC here) would pass 9999-12-31 23:59:59.999 UTC, the latest time the "
                           "engine represents");
                }
                lo_ += *a.by_ms;
                hi_ += *a.by_ms;
              } else {
                lo_ = std::max(lo_, *a.to_ms);
                hi_ = std::max(hi_, *a.to_ms);
              }
              check_clock(at, "advance");
            },
            [&](const RunUntilIdleStep& r) {
              if (r.limit_ms > kMaxClockMs - hi_) {
                fail(at, "run_until_idle's limit " + format_duration(r.limit_ms) +
                             " is out of range: the clock would pass 9999-12-31 23:59:59.999 UTC");
              }
              hi_ += r.limit_ms;
              check_clock(at, "run_until_idle");
            },
            [&](const FaultStep& f) {
              if (f.kind != FaultStep::Kind::kBrokerUnavailable) return;
              // The generators and the arrivals retry every second while it is down.
              retries_ += (static_cast<double>(f.duration_ms) / 1000 + 1) *
                          static_cast<double>(generators_.size() + 1);
            },
            [&](const RecoverStep& r) {
              add_aggregation(r.aggregation, lo_);
              if (static_cast<int64_t>(aggregations_.size()) > l_.max_queries) {
                fail(at, "this recovery makes " + std::to_string(aggregations_.size()) +
                             " aggregation queries, more than the limit max_queries of " +
                             std::to_string(l_.max_queries) + kRaise);
              }
            },
            [&](const auto&) {},
        },
        st.action);
  }

 private:
  template <class... F>
  struct Overloaded : F... {
    using F::operator()...;
  };
  template <class... F>
  Overloaded(F...) -> Overloaded<F...>;

  struct Query {
    int64_t start_ms, trigger_ms, partitions;
  };
  struct Generator {
    int64_t start_ms, rate;
    std::optional<int64_t> count;
    int64_t stop_ms;
    int64_t bytes_per_event;
    int line;
  };

  static const TimeZone& utc() {
    static const TimeZone zone = TimeZone::load("UTC").value();
    return zone;
  }

  [[noreturn]] void fail(const std::string& pointer, const std::string& message) const {
    throw Invalid{
        doc_.error_at(pointer, message + (message.find(kRaise) == std::string::npos &&
                                                  message.find("limit") != std::string::npos
                                              ? kRaise
                                              : ""))};
  }

  void add_aggregation(const AggregationConfig& a, int64_t start_ms = -1) {
    const PipelineConfig& c = s_.pipeline;
    queries_.push_back({start_ms < 0 ? s_.start_ms : start_ms,
                        a.options.trigger_ms.value_or(c.trigger_ms), c.stages.partitions});
    aggregations_.push_back(windows_per_event(a.spec.window));
  }

  double generated() const {
    return over_generators([](const auto&) { return 1.0; });
  }
  double generated_bytes() const {
    return over_generators([](const auto& g) { return static_cast<double>(g.bytes_per_event); });
  }
  // The sum over the generators of the records each emits by the clock's upper bound
  // (generator.h: event k at start + k * 1000 / rate), each record weighing `weight(g)`.
  template <class Weight>
  double over_generators(Weight weight) const {
    double n = 0;
    for (const auto& g : generators_) {
      const int64_t end = std::min(g.stop_ms, hi_);
      if (end < g.start_ms) continue;
      double k =
          std::floor(static_cast<double>(end - g.start_ms) * static_cast<double>(g.rate) / 1000) +
          1;
      if (g.count) k = std::min(k, static_cast<double>(*g.count));
      n += k * weight(g);
    }
    return n;
  }

  std::string generators_text() const {
    std::string text;
    for (const auto& g : generators_) {
      text += (text.empty() ? "; generate at line " : ", at line ") + std::to_string(g.line) +
              ": rate " + std::to_string(g.rate) + " a second" +
              (g.count ? ", count " + std::to_string(*g.count) : "");
    }
    return text;
  }

  static std::string count_text(double v) {
    return v >= 9e18 ? "more than 9e18" : std::to_string(static_cast<int64_t>(v));
  }

  void check_records(const std::string& pointer, const std::string& what) const {
    const double records = records_ + generated();
    if (records > static_cast<double>(l_.max_events)) {
      fail(pointer, "by the end of " + what + " the scenario writes " + count_text(records) +
                        " records, more than the limit max_events of " +
                        std::to_string(l_.max_events) + generators_text());
    }
    const double bytes = bytes_ + generated_bytes();
    if (bytes > static_cast<double>(l_.max_event_bytes)) {
      fail(pointer, "by the end of " + what + " the scenario writes " + count_text(bytes) +
                        " bytes of records, more than the limit max_event_bytes of " +
                        std::to_string(l_.max_event_bytes));
    }
    double windows = 0;
    for (int64_t w : aggregations_) windows += records * static_cast<double>(w);
    if (windows > static_cast<double>(l_.max_window_rows)) {
      fail(pointer,
           "by the end of " + what + " the aggregations count " + count_text(windows) +
               " window rows (records times the windows each falls in), more than the limit "
               "max_window_rows of " +
               std::to_string(l_.max_window_rows));
    }
  }

  void check_clock(const std::string& pointer, const std::string& what) const {
    if (hi_ - s_.start_ms > l_.max_simulated_ms) {
      fail(pointer,
           what + " takes the clock to " + format_timestamp_ms(hi_, utc()) + " UTC, " +
               std::to_string((hi_ - s_.start_ms) / 86'400'000) +
               " simulated days after its start, more than the limit max_simulated_ms of " +
               std::to_string(l_.max_simulated_ms) + " ms (" +
               std::to_string(l_.max_simulated_ms / 86'400'000) + " days)");
    }
    double reads = retries_;
    std::string slowest;
    double most = -1;
    for (const auto& q : queries_) {
      if (hi_ < q.start_ms) continue;
      const double firings =
          std::floor(static_cast<double>(hi_ - q.start_ms) / static_cast<double>(q.trigger_ms)) + 1;
      reads += firings * static_cast<double>(q.partitions);
      if (firings * static_cast<double>(q.partitions) > most) {
        most = firings * static_cast<double>(q.partitions);
        slowest = "a query with trigger " + format_duration(q.trigger_ms) + " reading " +
                  std::to_string(q.partitions) +
                  (q.partitions == 1 ? " partition" : " partitions") + " fires " +
                  count_text(firings) + " times";
      }
    }
    if (reads > static_cast<double>(l_.max_trigger_reads)) {
      fail(pointer,
           what + " takes the clock to " + format_timestamp_ms(hi_, utc()) +
               " UTC: the queries' triggers fire " + count_text(reads) +
               " times (once per partition read), more than the limit max_trigger_reads of " +
               std::to_string(l_.max_trigger_reads) + " (" + slowest + ")");
    }
    check_records(pointer, what);
  }

  const JsonDocument& doc_;
  const Scenario& s_;
  const ScenarioLimits& l_;
  int64_t lo_, hi_;  // the clock is between these after the steps so far
  std::vector<Query> queries_;
  std::vector<int64_t> aggregations_;  // windows per event of each
  std::vector<Generator> generators_;
  double records_ = 0, bytes_ = 0;  // produce steps
  double retries_ = 0;
};

}  // namespace

Result<Scenario> parse_scenario(const JsonDocument& doc, const ScenarioLimits& limits) {
  try {
    Scenario s;
    s.limits = limits;
    s.path = doc.path();
    const Node root(doc, doc.root(), "");
    Members m(root, "the scenario", {"name", "description", "pipeline", "clock", "actions"});
    s.name = std::filesystem::path(doc.path()).stem().string();
    if (auto n = m.get("name")) s.name = n->str();
    if (auto d = m.get("description")) s.description = d->str();
    s.pipeline.aggregations = {PipelineConfig::lab_v1()};
    s.pipeline.max_fixture_bytes = static_cast<size_t>(limits.max_input_file_bytes);
    if (auto p = m.get("pipeline")) parse_pipeline(*p, doc.path(), s.pipeline, limits);
    const TimeZone zone = TimeZone::load(s.pipeline.zone).value();
    s.start_ms = parse_timestamp("2022-09-30 16:42:00", zone).value();  // the lab's example time
    if (auto c = m.get("clock")) {
      Members cm(*c, "the clock", {"start"});
      if (auto start = cm.get("start")) s.start_ms = start->time(zone);
    }
    const Node actions = m.require("actions", "the list of steps to run");
    if (actions.json().is_array() &&
        static_cast<int64_t>(actions.json().size()) > limits.max_actions) {
      actions.fail("the scenario has " + std::to_string(actions.json().size()) +
                   " actions, more than the limit max_actions of " +
                   std::to_string(limits.max_actions) + kRaise);
    }
    Budget budget(doc, s);
    for (const Node& a : actions.elements()) {
      s.steps.push_back(step(a, s, zone));
      budget.step(s.steps.back());
    }
    return s;
  } catch (const Invalid& e) {
    return e.status;
  }
}

Result<Scenario> load_scenario(const std::string& path, const ScenarioLimits& limits) {
  auto doc = JsonDocument::load(path, static_cast<size_t>(limits.max_scenario_bytes));
  if (!doc) return doc.status();
  return parse_scenario(*doc, limits);
}

}  // namespace kappa
