#include "replay/scenario/scenario_runner.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "broker/partitioner.h"
#include "pipeline/codec/event_codec.h"
#include "pipeline/engine/outage_log.h"
#include "pipeline/engine/scheduler.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/scenario/capture.h"
#include "replay/scenario/table_compare.h"
#include "replay/scenario/table_diff.h"

namespace kappa {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Records that arrive at chosen processing times (produce "at", replay). Runs before the
// pipeline's jobs at any instant: an arrival at T is read by a trigger at T. While the broker is
// down, arrivals wait and are retried every second, as a producer's retries.
class ArrivalJob final : public Job {
 public:
  struct Arrival {
    int64_t at_ms;
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;
    int64_t timestamp_ms;
    int32_t partition;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  };

  explicit ArrivalJob(Log& log) : log_(log) {}

  void add(Arrival a) {
    // Stable: arrivals at one instant keep the order they were scheduled in.
    auto it = std::upper_bound(pending_.begin(), pending_.end(), a.at_ms,
                               [](int64_t t, const Arrival& x) { return t < x.at_ms; });
    pending_.insert(it, std::move(a));
  }

  const std::string& name() const override { return name_; }
  int64_t next_wakeup_ms() const override {
    if (pending_.empty()) return kNever;
    return std::max(pending_.front().at_ms, retry_at_ms_);
  }
  bool idle() const override { return pending_.empty(); }

  Status run(int64_t now_ms) override {
    while (!pending_.empty() && pending_.front().at_ms <= now_ms) {
      const Arrival& a = pending_.front();
      std::vector<HeaderView> headers;
      for (const auto& [k, v] : a.headers)
        headers.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
      OutgoingRecord r;
      if (a.key) r.key = *a.key;
      if (a.value) r.value = *a.value;
      r.timestamp_ms = a.timestamp_ms;
      r.partition = a.partition;
      r.headers = headers;
      auto placed = log_.produce(a.topic, std::span(&r, 1));
      if (!placed) {
        if (placed.status().code() != StatusCode::kUnavailable) return placed.status();
        retry_at_ms_ = now_ms + 1000;
        return Status::ok();
      }
      pending_.erase(pending_.begin());
    }
    retry_at_ms_ = 0;
    return Status::ok();
  }

 private:
  std::string name_ = "arrivals";
  Log& log_;
  std::vector<Arrival> pending_;
  int64_t retry_at_ms_ = 0;
};

class Run final : public JobSet {
 public:
  Run(const Scenario& s, Log& log, Sink& sink, const RunOptions& options, RunReport& report)
      : s_(s),
        log_(log),
        sink_(sink),
        options_(options),
        report_(report),
        clock_(s.start_ms),
        outage_(log, clock_),
        arrivals_(outage_) {}

  ~Run() override { sink_.set_faults(nullptr); }

  std::vector<Job*> jobs() override {
    std::vector<Job*> jobs{&arrivals_};
    for (Job* j : pipeline_->jobs()) jobs.push_back(j);
    return jobs;
  }
  Status after_run(Job& job, int64_t now_ms) override {
    // A backstop behind parse_scenario()'s budget: every job run and every generated record
    // counts, so no file can make a run go on for ever.
    if (++job_runs_ > s_.limits.max_trigger_reads + s_.limits.max_events) {
      return Status::invalid_argument(
          "the run has stepped " + std::to_string(job_runs_) +
          " jobs, more than the limits max_trigger_reads + max_events allow (kappa run "
          "--limits-scale N raises the limits)");
    }
    if (dynamic_cast<GeneratorJob*>(&job) != nullptr) KAPPA_RETURN_IF_ERROR(count_records(0));
    return pipeline_->after_run(job, now_ms);
  }

  Status setup() {
    auto p = Pipeline::create(s_.pipeline, outage_, sink_, &faults_);
    if (!p) return p.status();
    pipeline_ = std::move(*p);
    sink_.set_faults(&faults_);
    pipeline_->on_batch([this](const BatchReport& b) {
      note_outcome(b);
      if (options_.trace) trace(b);
    });
    scheduler_ = std::make_unique<SimulatedScheduler>(clock_, *this);
    return pipeline_->start(clock_.now_ms());
  }

  Status step(const Step& st) {
    step_ = &st;
    return std::visit(
        Overloaded{
            [&](const GenerateStep& g) {
              pipeline_->add_generator(g.spec, clock_.now_ms());
              return Status::ok();
            },
            [&](const StopStep& stop) { return this->stop(stop); },
            [&](const ProduceStep& p) { return produce(p); },
            [&](const ReplayStep& r) { return replay(r); },
            [&](const AdvanceStep& a) { return advance(a); },
            [&](const RunUntilIdleStep& r) { return scheduler_->run_until_idle(r.limit_ms); },
            [&](const RestartStep& r) { return pipeline_->restart(r.query, clock_.now_ms()); },
            [&](const FaultStep& f) { return fault(f); },
            [&](const RecoverStep& r) { return recover(r); },
            [&](const CompareStep& c) { return compare(c); },
            [&](const CutoverStep& c) { return sink_.point_view(c.view, c.table); },
            [&](const ExpectStep& e) { return expect(e); },
        },
        st.action);
  }

  // After the last step: a query whose last attempts all failed (retried or crashed) has not
  // done its work, and the run fails unless the scenario expected that (a metrics expectation of
  // the query's failed attempts or state, after it began failing).
  void check_failing_queries() {
    for (const auto& [query, f] : failing_) {
      if (f.expected) continue;
      report_.failures.push_back(
          {f.where,
           "query " + query + " still failing at " + now_text(),
           {query + " batch " + std::to_string(f.batch_id) + " failed " +
                std::to_string(f.attempts) + (f.attempts == 1 ? " attempt" : " attempts") +
                " from " + format_timestamp(f.first_ms, zone()) +
                " and did not succeed before the scenario ended; the last error: " +
                f.last.message(),
            "if that failure is the point, expect it: {\"expect\": {\"metrics\": {\"query\": \"" +
                query + "\", \"failed_attempts\": ...}}} or \"state\": \"crashed\""}});
    }
  }

  void print_tables() {
    for (const auto& a : pipeline_->config().aggregations) {
      auto rows = sink_.read_table(a.spec.table);
      if (!rows) {
        *options_.tables << a.spec.table << ": " << rows.status().message() << "\n";
        continue;
      }
      print_table(*options_.tables, a.spec.table, a.spec.dimension, *rows);
    }
  }

 private:
  const TimeZone& zone() const { return pipeline_->zone(); }

  // Records written so far (produced, replayed, generated) plus `more`, against max_events.
  Status count_records(int64_t more) {
    written_ += more;
    int64_t generated = 0;
    for (GeneratorJob* g : pipeline_->generators()) generated += g->emitted();
    if (written_ + generated > s_.limits.max_events) {
      return Status::invalid_argument(
          "the scenario writes " + std::to_string(written_ + generated) +
          " records, more than the limit max_events of " + std::to_string(s_.limits.max_events) +
          " (kappa run --limits-scale N raises the limits)");
    }
    return Status::ok();
  }
  std::string now_text() const { return format_timestamp(clock_.now_ms(), zone()); }

  Status stop(const StopStep& stop) {
    if (stop.generators) {
      for (GeneratorJob* g : pipeline_->generators()) g->stop();
      return Status::ok();
    }
    return pipeline_->stop(*stop.query);
  }

  Status produce(const ProduceStep& p) {
    std::string value;
    if (p.event) {
      std::string time;
      if (p.event->time)
        time = *p.event->time;
      else if (*p.event->time_ago_ms > clock_.now_ms() - kMinClockMs)
        return Status::invalid_argument("time_ago " + format_duration(*p.event->time_ago_ms) +
                                        " goes back before 1970-01-01 00:00:00 UTC");
      else
        time = format_timestamp(clock_.now_ms() - *p.event->time_ago_ms, zone());
      append_source_event_json(value, p.event->id, p.event->hello, time);
    } else if (p.value) {
      value = *p.value;
    }
    auto partitions = log_.partition_count(p.topic);
    if (!partitions) {
      if (partitions.status().code() != StatusCode::kNotFound) return partitions.status();
      KAPPA_RETURN_IF_ERROR(log_.create_topic(p.topic, 1));
      partitions = 1;
    }
    const int64_t at = p.at_ms.value_or(clock_.now_ms());
    if (at < clock_.now_ms()) {
      return Status::invalid_argument("cannot produce at " + format_timestamp_ms(at, zone()) +
                                      ": the clock is already at " + now_text());
    }
    KAPPA_RETURN_IF_ERROR(count_records(p.repeat));
    for (int64_t i = 0; i < p.repeat; ++i) {
      ArrivalJob::Arrival a;
      a.at_ms = at;
      a.topic = p.topic;
      a.key = p.key;
      if (p.event || p.value) a.value = value;
      a.timestamp_ms = p.timestamp_ms.value_or(at);
      a.partition =
          p.partition != kAnyPartition
              ? p.partition
              : partitioner_.partition(
                    p.key ? std::optional<std::string_view>(*p.key) : std::nullopt, *partitions);
      if (a.partition >= *partitions) {
        return Status::invalid_argument("topic " + p.topic + " has " + std::to_string(*partitions) +
                                        " partitions; there is no partition " +
                                        std::to_string(a.partition));
      }
      arrivals_.add(std::move(a));
    }
    // An arrival now is written now (after this instant's triggers); a later one waits.
    if (at == clock_.now_ms()) return arrivals_.run(clock_.now_ms());
    return Status::ok();
  }

  Status replay(const ReplayStep& r) {
    auto records = read_capture(r.file, static_cast<size_t>(s_.limits.max_input_file_bytes));
    if (!records) return records.status();
    if (records->empty()) return Status::ok();
    KAPPA_RETURN_IF_ERROR(count_records(static_cast<int64_t>(records->size())));
    int64_t first = records->front().timestamp_ms;
    for (const auto& c : *records) first = std::min(first, c.timestamp_ms);
    for (auto& c : *records) {
      ArrivalJob::Arrival a;
      switch (r.timing) {
        case ReplayStep::Timing::kRelative:
          a.at_ms = clock_.now_ms() + (c.timestamp_ms - first);
          break;
        case ReplayStep::Timing::kRecorded:
          a.at_ms = c.timestamp_ms;
          break;
        case ReplayStep::Timing::kNow:
          a.at_ms = clock_.now_ms();
          break;
      }
      if (a.at_ms < clock_.now_ms()) {
        return Status::invalid_argument(
            r.file + ": record " + record_name(c.topic, c.partition, c.offset) +
            " was recorded at " + format_timestamp_ms(c.timestamp_ms, zone()) +
            ", before the clock (" + now_text() + "); use \"timing\": \"relative\"");
      }
      a.topic = r.topic.value_or(c.topic);
      a.key = std::move(c.key);
      a.value = std::move(c.value);
      a.timestamp_ms = a.at_ms;
      a.partition = c.partition;
      auto partitions = log_.partition_count(a.topic);
      if (!partitions) return partitions.status().with_context("replaying " + r.file);
      if (a.partition >= *partitions) {
        return Status::invalid_argument(
            r.file + ": record " + record_name(c.topic, c.partition, c.offset) +
            " needs partition " + std::to_string(c.partition) + " of topic " + a.topic +
            ", which has " + std::to_string(*partitions));
      }
      // The origin headers belong to the run that wrote the records; a replay is a new arrival.
      for (auto& h : c.headers) {
        if (h.first.rfind("kappa.", 0) != 0) a.headers.push_back(std::move(h));
      }
      arrivals_.add(std::move(a));
    }
    return arrivals_.run(clock_.now_ms());
  }

  Status advance(const AdvanceStep& a) {
    if (a.by_ms && *a.by_ms > kMaxClockMs - clock_.now_ms()) {
      return Status::invalid_argument(
          "advancing by " + format_duration(*a.by_ms) +
          " would pass 9999-12-31 23:59:59.999 UTC, the latest time the "
          "engine represents");
    }
    const int64_t to = a.to_ms ? *a.to_ms : clock_.now_ms() + *a.by_ms;
    if (to < clock_.now_ms()) {
      return Status::invalid_argument("cannot advance the clock back to " +
                                      format_timestamp_ms(to, zone()) + " from " + now_text());
    }
    return scheduler_->advance_to(to);
  }

  Status fault(const FaultStep& f) {
    switch (f.kind) {
      case FaultStep::Kind::kSinkUnavailable:
        if (!f.query.empty() && !pipeline_->query(f.query))
          return Status::invalid_argument("no query named '" + f.query + "'");
        faults_.arm(f.point, StatusCode::kUnavailable, f.commits, 0, f.query);
        return Status::ok();
      case FaultStep::Kind::kCrash:
        if (!pipeline_->query(f.query))
          return Status::invalid_argument("no query named '" + f.query + "' to crash");
        faults_.arm(f.point, StatusCode::kAborted, 1, f.after, f.query);
        pipeline_->set_auto_restart(f.query, f.restart_immediately);
        return Status::ok();
      case FaultStep::Kind::kBrokerUnavailable:
        outage_.fail_until(clock_.now_ms() + f.duration_ms);
        return Status::ok();
    }
    return Status::ok();
  }

  Status recover(const RecoverStep& r) {
    auto q = pipeline_->recover(r.aggregation, clock_.now_ms());
    if (!r.expect_error) return q.status();
    ++report_.expectations;
    if (q) {
      fail({"the recovery into " + r.aggregation.spec.table +
            " was accepted; expected it to be refused with \"" + *r.expect_error + "\""});
    } else if (q.status().message().find(*r.expect_error) == std::string::npos) {
      fail({"refused with: " + q.status().message(),
            "expected the message to contain: " + *r.expect_error});
    } else {
      report_.notes.push_back("refused as expected: " + q.status().message());
    }
    return Status::ok();
  }

  const AggregationConfig* aggregation_of(const std::string& table) const {
    for (const auto& a : pipeline_->config().aggregations) {
      if (a.spec.table == table) return &a;
    }
    return nullptr;
  }

  Status compare(const CompareStep& c) {
    const AggregationConfig* l = aggregation_of(c.left);
    const AggregationConfig* r = aggregation_of(c.right);
    if (!l || !r) {
      return Status::invalid_argument("compare needs two tables the pipeline writes; " +
                                      (!l ? c.left : c.right) + " is not one");
    }
    auto left = sink_.read_table(c.left);
    if (!left) return left.status();
    auto right = sink_.read_table(c.right);
    if (!right) return right.status();
    auto cmp =
        compare_tables(c.left, *left, l->spec.window, c.right, *right, r->spec.window, zone());
    if (!cmp) return cmp.status();
    for (const auto& line : cmp->lines) report_.notes.push_back(line);
    std::vector<std::string> lines;
    auto check = [&](const char* what, const std::optional<int64_t>& want, int64_t got) {
      if (!want) return;
      ++report_.expectations;
      if (*want != got)
        lines.push_back(std::string(what) + ": expected " + std::to_string(*want) + ", found " +
                        std::to_string(got));
    };
    check("same", c.same, cmp->same);
    check("changed", c.changed, cmp->changed);
    check("added", c.added, cmp->added);
    check("removed", c.removed, cmp->removed);
    if (!lines.empty()) {
      lines.insert(lines.end(), cmp->lines.begin(), cmp->lines.end());
      --report_.expectations;
      fail(std::move(lines));
    }
    return Status::ok();
  }

  Status expect(const ExpectStep& e) {
    ++report_.expectations;
    return std::visit(Overloaded{
                          [&](const ExpectTableStep& t) { return expect_table(t); },
                          [&](const ExpectTopicStep& t) { return expect_topic(t); },
                          [&](const ExpectDeadLettersStep& d) { return expect_dead_letters(d); },
                          [&](const ExpectMetricsStep& m) { return expect_metrics(m); },
                          [&](const ExpectBalancedStep&) { return expect_balanced(); },
                          [&](const ExpectCaughtUpStep& c) { return expect_caught_up(c); },
                          [&](const ExpectViewStep& v) { return expect_view(v); },
                      },
                      e);
  }

  Status expect_table(const ExpectTableStep& t) {
    auto rows = sink_.read_table(t.table);
    if (!rows) {
      if (rows.status().code() != StatusCode::kNotFound) return rows.status();
      rows = std::vector<TableRow>{};
      if ((t.rows && !t.rows->empty()) || !t.contains.empty() ||
          (t.row_count && *t.row_count > 0)) {
        fail({"table " + t.table + " does not exist (no batch has been written to it)"});
        return Status::ok();
      }
    }
    report_.rows_checked += static_cast<int64_t>(rows->size());
    std::vector<std::string> lines;
    auto just_rows = [](const std::vector<ExpectedRow>& expected) {
      std::vector<TableRow> out;
      for (const auto& r : expected) out.push_back(r.row);
      return out;
    };
    // Differences about an expected row say where that row is written.
    auto line_of = [](const std::vector<ExpectedRow>& expected, const TableRow& row) {
      for (const auto& x : expected) {
        if (x.row == row) return " (line " + std::to_string(x.where.location.line) + ")";
      }
      return std::string();
    };
    auto report = [&](const std::vector<ExpectedRow>& expected, const TableDiff& d, bool exact) {
      for (const auto& w : d.wrong_count) {
        lines.push_back("wrong count: " + format_row_key(w.expected) + " expected " +
                        std::to_string(w.expected.count) + ", found " + std::to_string(w.actual) +
                        line_of(expected, w.expected));
      }
      for (const auto& m : d.missing)
        lines.push_back("missing:     " + format_row(m) + line_of(expected, m));
      if (exact) {
        for (const auto& u : d.unexpected) lines.push_back("unexpected:  " + format_row(u));
      }
    };
    if (t.rows) report(*t.rows, diff_rows(just_rows(*t.rows), *rows), true);
    if (!t.contains.empty()) report(t.contains, diff_rows(just_rows(t.contains), *rows), false);
    for (const auto& a : t.absent) {
      for (const auto& r : *rows) {
        if (r == a.row)
          lines.push_back("present:     " + format_row(r) + " (expected absent, line " +
                          std::to_string(a.where.location.line) + ")");
      }
    }
    if (t.row_count && static_cast<int64_t>(rows->size()) != *t.row_count) {
      lines.push_back("row count: expected " + std::to_string(*t.row_count) + ", found " +
                      std::to_string(rows->size()));
    }
    if (!lines.empty()) fail(std::move(lines));
    return Status::ok();
  }

  // The records of a topic (or one partition), through the log without faults.
  Result<std::vector<std::string>> topic_values(const std::string& topic,
                                                std::optional<int32_t> only,
                                                std::vector<bool>* null_values = nullptr) {
    std::vector<std::string> out;
    auto n = log_.partition_count(topic);
    if (!n)
      return n.status().code() == StatusCode::kNotFound ? Result<std::vector<std::string>>(out)
                                                        : n.status();
    for (int32_t p = 0; p < *n; ++p) {
      if (only && *only != p) continue;
      auto range = log_.offsets(topic, p);
      if (!range) return range.status();
      int64_t at = range->earliest;
      while (at < range->end) {
        auto got =
            log_.fetch(topic, p, at, FetchLimits{.max_records = 4096, .end_offset = range->end});
        if (!got) return got.status();
        if (got->records.empty()) break;
        for (const auto& r : got->records) {
          out.emplace_back(r.value.value_or(""));
          if (null_values) null_values->push_back(!r.value.has_value());
        }
        at = got->next_offset;
      }
    }
    return out;
  }

  static bool value_matches(const nlohmann::ordered_json& expected, const std::string& actual) {
    if (expected.is_string()) return expected.get<std::string>() == actual;
    const auto parsed = nlohmann::ordered_json::parse(actual, nullptr, false);
    return !parsed.is_discarded() && parsed == expected;
  }

  Status expect_topic(const ExpectTopicStep& t) {
    auto values = topic_values(t.topic, t.partition);
    if (!values) return values.status();
    std::vector<std::string> lines;
    if (t.count && static_cast<int64_t>(values->size()) != *t.count) {
      lines.push_back("record count: expected " + std::to_string(*t.count) + ", found " +
                      std::to_string(values->size()));
    }
    if (t.values) {
      const size_t n = std::max(values->size(), t.values->size());
      for (size_t i = 0; i < n; ++i) {
        if (i >= t.values->size()) {
          lines.push_back("unexpected record " + std::to_string(i) + ": " + (*values)[i]);
        } else if (i >= values->size()) {
          lines.push_back("missing record " + std::to_string(i) + ": " +
                          (*t.values)[i].value.dump() + " (line " +
                          std::to_string((*t.values)[i].where.location.line) + ")");
        } else if (!value_matches((*t.values)[i].value, (*values)[i])) {
          lines.push_back("record " + std::to_string(i) + ": expected " +
                          (*t.values)[i].value.dump() + ", found " + (*values)[i] + " (line " +
                          std::to_string((*t.values)[i].where.location.line) + ")");
        }
      }
    }
    for (const auto& c : t.contains) {
      const bool found = std::any_of(values->begin(), values->end(), [&](const std::string& v) {
        return value_matches(c.value, v);
      });
      if (!found)
        lines.push_back("missing: " + c.value.dump() + " (line " +
                        std::to_string(c.where.location.line) + ")");
    }
    if (!lines.empty()) fail(std::move(lines));
    return Status::ok();
  }

  Status expect_dead_letters(const ExpectDeadLettersStep& d) {
    auto values = topic_values(pipeline_->config().dlq.name, std::nullopt);
    if (!values) return values.status();
    std::map<std::string, int64_t> reasons;
    for (const auto& v : *values) {
      const auto j = nlohmann::json::parse(v, nullptr, false);
      reasons[j.is_object() && j.contains("reason") && j["reason"].is_string()
                  ? j["reason"].get<std::string>()
                  : "?"]++;
    }
    std::vector<std::string> lines;
    if (d.count && static_cast<int64_t>(values->size()) != *d.count) {
      lines.push_back("dead letters: expected " + std::to_string(*d.count) + ", found " +
                      std::to_string(values->size()));
    }
    for (const auto& [reason, want] : d.reasons) {
      if (reasons[reason] != want) {
        lines.push_back("reason " + reason + ": expected " + std::to_string(want) + ", found " +
                        std::to_string(reasons[reason]));
      }
    }
    if (!lines.empty()) fail(std::move(lines));
    return Status::ok();
  }

  MicroBatchQuery* query_or_fail(const std::string& id, Status& status) {
    MicroBatchQuery* q = pipeline_->query(id);
    if (!q) status = Status::invalid_argument("no query named '" + id + "'");
    return q;
  }

  void note_outcome(const BatchReport& b) {
    if (!b.failure) {
      failing_.erase(b.query);
      return;
    }
    Failing& f = failing_[b.query];
    if (f.attempts == 0) {
      if (step_) f.where = step_->where;
      f.first_ms = b.ran_at_ms;
      f.batch_id = b.plan.batch_id;
    }
    ++f.attempts;
    f.last = *b.failure;
  }

  Status expect_metrics(const ExpectMetricsStep& m) {
    if (m.failed_attempts || m.state) {
      if (auto it = failing_.find(m.query); it != failing_.end()) it->second.expected = true;
    }
    Status missing;
    MicroBatchQuery* q = query_or_fail(m.query, missing);
    if (!q) return missing;
    auto totals = pipeline_->totals(m.query);
    if (!totals) return totals.status();
    const auto& t = *totals;
    std::vector<std::string> lines;
    auto check = [&](const char* what, const std::optional<int64_t>& want, int64_t got) {
      if (want && *want != got)
        lines.push_back(std::string(what) + ": expected " + std::to_string(*want) + ", found " +
                        std::to_string(got));
    };
    if (m.watermark_ms && *m.watermark_ms != q->watermark_ms()) {
      lines.push_back("watermark: expected " + format_timestamp_ms(*m.watermark_ms, zone()) +
                      ", found " + format_timestamp_ms(q->watermark_ms(), zone()));
    }
    check("batches", m.batches, t.batches);
    check("rows_in", m.rows_in, t.rows_in);
    check("rows_out", m.rows_out, t.rows_out);
    check("dead_letters", m.dead_letters, t.dead_letters);
    check("dropped_as_late", m.dropped_as_late, t.late_rows);
    check("late_groups", m.late_groups, t.late_groups);
    check("failed_attempts", m.failed_attempts, t.failed_attempts);
    if (m.state) {
      const char* state = q->run_state() == MicroBatchQuery::RunState::kRunning   ? "running"
                          : q->run_state() == MicroBatchQuery::RunState::kCrashed ? "crashed"
                                                                                  : "stopped";
      if (*m.state != state) lines.push_back("state: expected " + *m.state + ", found " + state);
    }
    if (!lines.empty()) fail(std::move(lines));
    return Status::ok();
  }

  Status expect_balanced() {
    std::vector<std::string> lines;
    for (MicroBatchQuery* q : pipeline_->queries()) {
      const std::string& id = q->name();
      auto totals = pipeline_->totals(id);
      if (!totals) return totals.status();
      const auto& t = *totals;
      std::string figures = id + ": read " + std::to_string(t.rows_in) + " = " +
                            std::to_string(t.decoded) + " processed + " +
                            std::to_string(t.dead_letters) + " dead letters";
      bool ok = t.rows_in == t.decoded + t.dead_letters;
      if (auto* agg = dynamic_cast<AggregateProcessor*>(&q->processor())) {
        const auto& spec = agg->spec();
        figures += "; window rows " + std::to_string(t.windowed_rows + t.late_rows) + " = " +
                   std::to_string(t.windowed_rows) + " counted + " + std::to_string(t.late_rows) +
                   " late";
        if (spec.window.size_ms == spec.window.slide_ms)
          ok = ok && t.decoded == t.windowed_rows + t.late_rows;
        if (spec.mode == OutputMode::kAppend) {
          auto rows = sink_.read_table(spec.table);
          int64_t written = 0;
          if (rows) {
            for (const auto& r : *rows) written += r.count;
          }
          figures += "; counted " + std::to_string(t.windowed_rows) + " = " +
                     std::to_string(written) + " in " + spec.table + " + " +
                     std::to_string(agg->state_count()) + " in open windows";
          ok = ok && t.windowed_rows == written + agg->state_count();
        }
      }
      report_.notes.push_back(figures);
      if (!ok) lines.push_back("unbalanced: " + figures);
    }
    if (!lines.empty()) fail(std::move(lines));
    return Status::ok();
  }

  Status expect_caught_up(const ExpectCaughtUpStep& c) {
    auto up = pipeline_->caught_up(c.query, c.with);
    if (!up) return up.status();
    if (*up != c.caught_up) {
      auto offsets = [&](const std::string& id) {
        const auto* q = pipeline_->query(id);
        return format_offsets(q->spec().source_topic, q->committed_offsets());
      };
      fail({c.query + " has read to " + offsets(c.query) + ", " + c.with + " to " +
            offsets(c.with) + ": " + (*up ? "caught up" : "not caught up")});
    }
    return Status::ok();
  }

  Status expect_view(const ExpectViewStep& v) {
    auto target = sink_.view_target(v.view);
    if (!target) return target.status();
    if (!*target || **target != v.reads) {
      fail({"view " + v.view + " reads " +
            (*target ? **target : std::string("nothing (no such view)")) + ", expected " +
            v.reads});
    }
    return Status::ok();
  }

  void fail(std::vector<std::string> lines) {
    report_.failures.push_back(
        {step_->where, step_->label + " at " + now_text(), std::move(lines)});
  }

  void trace(const BatchReport& b) { *options_.trace << describe_batch(b, zone()) << "\n"; }

  const Scenario& s_;
  Log& log_;
  Sink& sink_;
  const RunOptions& options_;
  RunReport& report_;
  SimulatedClock clock_;
  OutageLog outage_;
  FaultPlan faults_;
  ArrivalJob arrivals_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<SimulatedScheduler> scheduler_;
  Partitioner partitioner_;
  const Step* step_ = nullptr;
  int64_t written_ = 0;   // records produced and replayed
  int64_t job_runs_ = 0;  // every run of every job
  // Queries whose attempts have failed since their last successful batch.
  struct Failing {
    int attempts = 0;
    int64_t batch_id = 0;
    int64_t first_ms = 0;
    Status last;
    Where where;            // the step during which the first of these attempts ran
    bool expected = false;  // a later metrics expectation checked it
  };
  std::map<std::string, Failing> failing_;
};

}  // namespace

std::string describe_batch(const BatchReport& b, const TimeZone& z) {
  std::ostringstream out;
  out << "[" << format_timestamp(b.ran_at_ms, z) << "] " << b.query << " batch " << b.plan.batch_id
      << (b.retried ? " (re-run, planned at " + format_timestamp(b.plan.trigger_ms, z) + ")" : "");
  if (b.failure) {
    out << ": FAILED (" << b.failure->message() << "); not checkpointed, the batch runs again";
    return out.str();
  }
  out << ": read " << b.result.rows_in;
  std::string ranges;
  for (size_t i = 0; i < b.plan.start.size(); ++i) {
    if (b.plan.start[i].offset == b.plan.end[i].offset) continue;
    ranges += " " + std::to_string(b.plan.start[i].partition) + ":[" +
              std::to_string(b.plan.start[i].offset) + "," + std::to_string(b.plan.end[i].offset) +
              ")";
  }
  if (!ranges.empty()) out << " (partition:[from,to)" << ranges << ")";
  if (b.has_watermark) {
    out << ", watermark " << format_timestamp_ms(b.plan.watermark_ms, z) << " -> "
        << format_timestamp_ms(b.next_watermark_ms, z) << ", late " << b.result.late_rows;
    if (b.result.late_rows > 0) out << " (" << b.result.late_groups << " groups)";
  }
  out << ", dead letters " << b.result.dead_letters << ", written " << b.result.rows_out
      << (b.result.sink_skipped ? " (already committed)" : "");
  return out.str();
}

RunReport run_scenario(const Scenario& scenario, Log& log, Sink& sink, const RunOptions& options) {
  const auto began = std::chrono::steady_clock::now();
  RunReport report;
  report.path = scenario.path;
  report.name = scenario.name;
  {
    Run run(scenario, log, sink, options, report);
    report.error = run.setup();
    for (size_t i = 0; report.error.is_ok() && i < scenario.steps.size(); ++i) {
      const Step& st = scenario.steps[i];
      report.error = run.step(st);
      if (!report.error.is_ok()) report.error_where = st.where;
    }
    if (report.error.is_ok()) run.check_failing_queries();
    if (report.error.is_ok() && options.tables) run.print_tables();
  }
  report.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  return report;
}

void print_table(std::ostream& out, const std::string& name, const std::string& dimension,
                 const std::vector<TableRow>& rows) {
  // Column widths count characters, not bytes, so Korean values line up.
  auto width_of = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
  };
  std::vector<std::array<std::string, 4>> cells;
  cells.push_back({"start", "end", dimension, "count"});
  for (const auto& r : rows)
    cells.push_back({r.start, r.end, to_display(r.dim), std::to_string(r.count)});
  std::array<size_t, 4> width{};
  for (const auto& c : cells) {
    for (size_t i = 0; i < 4; ++i) width[i] = std::max(width[i], width_of(c[i]));
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w, '-') + "+";
  out << name << " (" << rows.size() << " rows)\n" << rule << "\n";
  for (size_t k = 0; k < cells.size(); ++k) {
    out << "|";
    for (size_t i = 0; i < 4; ++i)
      out << cells[k][i] << std::string(width[i] - width_of(cells[k][i]), ' ') << "|";
    out << "\n";
    if (k == 0) out << rule << "\n";
  }
  out << rule << "\n";
}

}  // namespace kappa
