// NamespacedSink: the plain names a scenario uses follow the one identifier rule, though the
// inner sink only ever sees prefixed ones (which are never reserved).
#include "replay/backends/namespaced.h"

#include <gtest/gtest.h>

#include "pipeline/sinks/sqlite_sink.h"

namespace kappa {
namespace {

TEST(NamespacedSink, RefusesReservedPlainNames) {
  auto inner = SqliteSink::open(":memory:").value();
  NamespacedSink sink(*inner, unique_run_prefix());
  const TableRow rows[] = {
      TableRow{"2022-09-30 16:42:00", "2022-09-30 16:42:10", DimValue(std::string("one")), 1}};
  BatchCommit c;
  c.query_id = "q";
  c.table = TableSpec{"kappa_ledger", "user_name", ColumnType::kText};
  c.rows = rows;
  c.source_end = "events_stages/0:1";
  auto refused = sink.commit_batch(c);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("'kappa_ledger' is reserved"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(sink.read_table("sqlite_master").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink.table_exists("kappa_views").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink.point_view("events_users", "kappa_ledger").code(), StatusCode::kInvalidArgument);

  c.table.name = "events_users_v1";
  ASSERT_TRUE(sink.commit_batch(c));
  EXPECT_EQ(sink.read_table("events_users_v1")->size(), 1u);
}

}  // namespace
}  // namespace kappa
