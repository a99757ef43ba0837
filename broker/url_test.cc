#include "broker/url.h"

#include <gtest/gtest.h>

namespace kappa {
namespace {

TEST(Url, ParsesMysqlWithUserPasswordPortAndDatabase) {
  auto u = parse_url("mysql://scott:tiger@127.0.0.1:3306/default");
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(u->scheme, "mysql");
  EXPECT_EQ(u->user, "scott");
  EXPECT_EQ(u->password, std::optional<std::string>("tiger"));
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 3306);
  EXPECT_EQ(u->path, "default");
  EXPECT_EQ(u->describe(), "mysql://scott@127.0.0.1:3306/default");
}

TEST(Url, ParsesKafkaHostLists) {
  auto u = parse_url("kafka://h1:9092,h2:9093");
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(u->host, "h1");
  EXPECT_EQ(u->port, 9092);
  EXPECT_EQ(u->hosts, "h1:9092,h2:9093");
  EXPECT_FALSE(u->password);
  EXPECT_EQ(u->describe(), "kafka://h1:9092,h2:9093");
}

TEST(Url, DecodesPercentEscapesInTheUserInfo) {
  auto u = parse_url("mysql://sc%40tt:ti%3Ag%2Fer@db:3306/my%20db");
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(u->user, "sc@tt");
  EXPECT_EQ(u->password, std::optional<std::string>("ti:g/er"));
  EXPECT_EQ(u->path, "my db");
  EXPECT_EQ(u->describe().find("ti"), std::string::npos);
}

TEST(Url, ErrorsNeverShowThePassword) {
  for (const char* bad : {"mysql://scott:tiger@", "mysql://scott:tiger@h:0/db", "mysql://scott:tiger@h:99999/db",
                          "mysql://scott:tiger@h:x/db", "Mysql://scott:tiger@h/db", "scott:tiger@h",
                          "mysql://:tiger@h/db", "mysql://scott:ti%zzer@h/db"}) {
    auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(u.status().message().find("tiger"), std::string::npos) << u.status().message();
    EXPECT_EQ(u.status().message().find("ti%zzer"), std::string::npos) << u.status().message();
  }
}

TEST(Url, RedactsEveryUrlInAText) {
  EXPECT_EQ(redact("connect mysql://scott:tiger@127.0.0.1:3306/default failed; retry mysql://a:b@h"),
            "connect mysql://scott:***@127.0.0.1:3306/default failed; retry mysql://a:***@h");
  EXPECT_EQ(redact("kafka://127.0.0.1:9092 is fine"), "kafka://127.0.0.1:9092 is fine");
  EXPECT_EQ(redact("a password with @ in it: mysql://u:p@ss@h/db"), "a password with @ in it: mysql://u:***@h/db");
  EXPECT_EQ(redact("no urls"), "no urls");
  EXPECT_EQ(redact("'mysql://u:secret@h'"), "'mysql://u:***@h'");
}

}  // namespace
}  // namespace kappa
