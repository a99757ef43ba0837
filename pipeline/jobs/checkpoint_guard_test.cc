// A job whose checkpoint is missing or rolled back while its outputs hold its work refuses to
// start, instead of losing rows (an aggregation that skips batches its ledger knows) or doubling
// records (a stage job that stages again what its topic already holds).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "pipeline/jobs/test_rig.h"

namespace kappa {
namespace {

using testing::kT0;

// The pipeline of the lab (stage + v1) with checkpoints on disk, over a broker and a sink that
// outlive it, as a service's would across restarts.
class Service {
 public:
  Service(EmbeddedBroker& broker, Sink& sink, const std::filesystem::path& checkpoints,
          int64_t now_ms)
      : clock_(now_ms) {
    PipelineConfig c = testing::config_with({PipelineConfig::lab_v1()});
    c.checkpoint_dir = checkpoints.string();
    auto p = Pipeline::create(std::move(c), broker, sink);
    EXPECT_TRUE(p) << p.status().message();
    pipeline_ = std::move(*p);
    scheduler_ = std::make_unique<SimulatedScheduler>(clock_, *pipeline_);
  }
  Status start() { return pipeline_->start(clock_.now_ms()); }
  void run_for(int64_t seconds) {
    ASSERT_TRUE(scheduler_->advance_to(clock_.now_ms() + seconds * 1000));
  }
  void generate(int64_t count, int64_t first_id) {
    GeneratorSpec g;
    g.count = count;
    g.first_id = first_id;
    pipeline_->add_generator(g, clock_.now_ms());
  }
  int64_t now_ms() const { return clock_.now_ms(); }

 private:
  SimulatedClock clock_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<SimulatedScheduler> scheduler_;
};

class CheckpointGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("checkpoint_guard_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    sink_ = SqliteSink::open(":memory:").value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the lab for 60 s with 40 events; returns the time it stopped at.
  int64_t first_run() {
    Service s(broker_, *sink_, dir_ / "ckpt", kT0);
    EXPECT_TRUE(s.start());
    s.generate(40, 0);
    s.run_for(60);
    return s.now_ms();
  }

  EmbeddedBroker broker_;
  std::unique_ptr<SqliteSink> sink_;
  std::filesystem::path dir_;
};

TEST_F(CheckpointGuardTest, WithTheCheckpointItRanWithAServiceResumes) {
  const int64_t t = first_run();
  Service again(broker_, *sink_, dir_ / "ckpt", t);
  EXPECT_TRUE(again.start());
}

TEST_F(CheckpointGuardTest, WithoutItsCheckpointTheStageJobRefusesToStageAgain) {
  const int64_t t = first_run();
  // Started "from another directory": no checkpoint, the same topics.
  Service elsewhere(broker_, *sink_, dir_ / "elsewhere", t);
  const Status s = elsewhere.start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("query stage"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("events_stages/"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("it has no checkpoint"), std::string::npos) << s.message();
}

TEST_F(CheckpointGuardTest, WithoutItsCheckpointAnAggregationRefusesToSkipOrRedoItsLedger) {
  const int64_t t = first_run();
  // The stage job keeps its checkpoint; the aggregation's is gone.
  std::filesystem::create_directories(dir_ / "moved");
  std::filesystem::rename(dir_ / "ckpt" / "stage", dir_ / "moved" / "stage");
  Service elsewhere(broker_, *sink_, dir_ / "moved", t);
  const Status s = elsewhere.start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("query events_users_v1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("ledger in sqlite::memory:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("source offsets up to events_stages/0:"), std::string::npos)
      << s.message();
}

TEST_F(CheckpointGuardTest, ARolledBackCheckpointIsRefusedToo) {
  const int64_t t = first_run();
  const auto old_copy = dir_ / "old";
  std::filesystem::copy(dir_ / "ckpt", old_copy, std::filesystem::copy_options::recursive);
  int64_t t2 = 0;
  {
    Service more(broker_, *sink_, dir_ / "ckpt", t);
    ASSERT_TRUE(more.start());
    more.generate(40, 40);
    more.run_for(60);
    t2 = more.now_ms();
  }
  // The checkpoint restored from the copy made before the last 60 s.
  std::filesystem::remove_all(dir_ / "ckpt");
  std::filesystem::rename(old_copy, dir_ / "ckpt");
  Service restored(broker_, *sink_, dir_ / "ckpt", t2);
  const Status s = restored.start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("its checkpoint records batches up to"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace kappa
