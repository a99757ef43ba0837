// The one identifier rule (validate_identifier): the shape every table, view and column name
// must have, and the names the sinks keep for themselves.
#include "pipeline/sinks/sink.h"

#include <gtest/gtest.h>

namespace kappa {
namespace {

TEST(ValidateIdentifier, AcceptsPlainNames) {
  for (const char* ok : {"events_users_v1", "_x", "E2", "kappa", "sqlite", "kappaledger",
                         "my_kappa_ledger", "k0123456789_events_users_v1"}) {
    EXPECT_TRUE(validate_identifier(ok, "table name")) << ok;
  }
}

TEST(ValidateIdentifier, RefusesBadShapes) {
  for (const char* bad : {"", "1abc", "a-b", "a b", "a;DROP TABLE x", "a`b"}) {
    const Status s = validate_identifier(bad, "table name");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(validate_identifier(std::string(65, 'a'), "table name"));
}

TEST(ValidateIdentifier, RefusesNamesTheSinksReserve) {
  for (const char* reserved : {"sqlite_master", "sqlite_sequence", "SQLITE_MASTER", "Sqlite_x",
                               "kappa_ledger", "kappa_views", "KAPPA_LEDGER", "kappa_anything"}) {
    const Status s = validate_identifier(reserved, "table name");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << reserved;
    EXPECT_NE(s.message().find(std::string("table name '") + reserved + "'"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("reserved"), std::string::npos) << s.message();
  }
  EXPECT_NE(validate_identifier("sqlite_master", "view name").message().find("SQLite"),
            std::string::npos);
  EXPECT_NE(validate_identifier("kappa_ledger", "view name").message().find("kappa_ledger"),
            std::string::npos);
}

}  // namespace
}  // namespace kappa
