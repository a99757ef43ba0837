// The core of a Run (run.h): setup, the step dispatch, batch outcomes and the limits backstop.
#include "replay/scenario/run.h"

namespace kappa::runner {

std::vector<Job*> Run::jobs() {
  std::vector<Job*> jobs{&arrivals_};
  for (Job* j : pipeline_->jobs()) jobs.push_back(j);
  return jobs;
}

Status Run::after_run(Job& job, int64_t now_ms) {
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

Status Run::setup() {
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

Status Run::step(const Step& st) {
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
void Run::check_failing_queries() {
  for (const auto& [query, f] : failing_) {
    if (f.expected) continue;
    report_.failures.push_back(
        {f.where,
         "query " + query + " still failing at " + now_text(),
         {query + " batch " + std::to_string(f.batch_id) + " failed " + std::to_string(f.attempts) +
              (f.attempts == 1 ? " attempt" : " attempts") + " from " +
              format_timestamp(f.first_ms, zone()) +
              " and did not succeed before the scenario ended; the last error: " + f.last.message(),
          "if that failure is the point, expect it: {\"expect\": {\"metrics\": {\"query\": \"" +
              query + "\", \"failed_attempts\": ...}}} or \"state\": \"crashed\""}});
  }
}

void Run::print_tables() {
  for (const auto& a : pipeline_->config().aggregations) {
    auto rows = sink_.read_table(a.spec.table);
    if (!rows) {
      *options_.tables << a.spec.table << ": " << rows.status().message() << "\n";
      continue;
    }
    print_table(*options_.tables, a.spec.table, a.spec.dimension, *rows);
  }
}

// Records written so far (produced, replayed, generated) plus `more`, against max_events.
Status Run::count_records(int64_t more) {
  written_ += more;
  int64_t generated = 0;
  for (GeneratorJob* g : pipeline_->generators()) generated += g->emitted();
  if (written_ + generated > s_.limits.max_events) {
    return Status::invalid_argument("the scenario writes " + std::to_string(written_ + generated) +
                                    " records, more than the limit max_events of " +
                                    std::to_string(s_.limits.max_events) +
                                    " (kappa run --limits-scale N raises the limits)");
  }
  return Status::ok();
}

MicroBatchQuery* Run::query_or_fail(const std::string& id, Status& status) {
  MicroBatchQuery* q = pipeline_->query(id);
  if (!q) status = Status::invalid_argument("no query named '" + id + "'");
  return q;
}

void Run::note_outcome(const BatchReport& b) {
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

void Run::fail(std::vector<std::string> lines) {
  report_.failures.push_back({step_->where, step_->label + " at " + now_text(), std::move(lines)});
}

}  // namespace kappa::runner
