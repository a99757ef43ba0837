// Whether the MongoDB server of the tests ($KAPPA_TEST_MONGODB, test_servers.h) answers, asked
// once per process. Header-only, for tests.
#pragma once

#include "broker/client/test_servers.h"
#include "broker/url.h"
#include "pipeline/sinks/mongo_sink.h"

namespace kappa::test_servers {

inline const Status& mongodb_up() {
  static const Status status = [] {
    auto sink = MongoSink::open(mongodb_url());
    return sink ? Status::ok() : Status(sink.status().code(), redact(sink.status().message()));
  }();
  return status;
}

}  // namespace kappa::test_servers
