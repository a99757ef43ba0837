// The real servers tests run against, shared by every test binary that needs them:
// $KAPPA_TEST_KAFKA (default kafka://127.0.0.1:9092, scripts/start-kafka.sh) and
// $KAPPA_TEST_MYSQL (default mysql://scott:tiger@127.0.0.1:3306/default, scripts/start-mysql.sh)
// and $KAPPA_TEST_MONGODB (default mongodb://127.0.0.1:27017/kappa, scripts/start-mongodb.sh;
// whether it answers is pipeline/sinks/mongo_test_server.h's mongodb_up()).
// A test whose server is not there skips with the reason; in CI (CI=true) it fails instead.
// Header-only, for tests.
#pragma once

#include <cstdlib>
#include <string>

#include "broker/client/kafka_log.h"

namespace kappa::test_servers {

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

inline std::string kafka_url() { return env_or("KAPPA_TEST_KAFKA", "kafka://127.0.0.1:9092"); }
inline std::string mysql_url() {
  return env_or("KAPPA_TEST_MYSQL", "mysql://scott:tiger@127.0.0.1:3306/default");
}
inline std::string mongodb_url() {
  return env_or("KAPPA_TEST_MONGODB", "mongodb://127.0.0.1:27017/kappa");
}
inline bool in_ci() { return env_or("CI", "") == "true"; }

// Whether the Kafka cluster answers, asked once per process.
inline const Status& kafka_up() {
  static const Status status = [] {
    auto log = KafkaLog::open(kafka_url(), 3000);
    if (!log) return log.status();
    return (*log)->list_topics().status();
  }();
  return status;
}

}  // namespace kappa::test_servers

// In a test body: skip (or, in CI, fail) unless `status_expr` (a const Status&) is ok.
#define KAPPA_REQUIRE_SERVER(status_expr, what)                               \
  do {                                                                        \
    const ::kappa::Status& kappa_up_ = (status_expr);                         \
    if (!kappa_up_) {                                                         \
      if (::kappa::test_servers::in_ci())                                     \
        FAIL() << "CI=true and no " << (what) << ": " << kappa_up_.message(); \
      GTEST_SKIP() << "no " << (what) << ": " << kappa_up_.message();         \
    }                                                                         \
  } while (0)
