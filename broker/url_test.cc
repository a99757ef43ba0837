#include "broker/url.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>

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
  for (const char* bad :
       {"mysql://scott:tiger@", "mysql://scott:tiger@h:0/db", "mysql://scott:tiger@h:99999/db",
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
  EXPECT_EQ(
      redact("connect mysql://scott:tiger@127.0.0.1:3306/default failed; retry mysql://a:b@h"),
      "connect mysql://scott:***@127.0.0.1:3306/default failed; retry mysql://a:***@h");
  EXPECT_EQ(redact("kafka://127.0.0.1:9092 is fine"), "kafka://127.0.0.1:9092 is fine");
  EXPECT_EQ(redact("a password with @ in it: mysql://u:p@ss@h/db"),
            "a password with @ in it: mysql://u:***@h/db");
  EXPECT_EQ(redact("no urls"), "no urls");
  EXPECT_EQ(redact("'mysql://u:secret@h'"), "'mysql://u:***@h'");
}

// A password may hold any character: the credentials end at the last '@', not at the first
// '/'. Characters that must appear elsewhere ('@' in a database name) are percent-encoded.
TEST(Url, APasswordWithSlashesParsesAndIsRedacted) {
  auto u = parse_url("mysql://scott:s3/cr3tpw@127.0.0.1:3306/default");
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(u->user, "scott");
  EXPECT_EQ(u->password, std::optional<std::string>("s3/cr3tpw"));
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 3306);
  EXPECT_EQ(u->path, "default");
  u = parse_url("mysql://scott:a/b@c:d/e@f@h:3306/db%40x");
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(u->password, std::optional<std::string>("a/b@c:d/e@f"));
  EXPECT_EQ(u->path, "db@x");
  EXPECT_EQ(redact("bad URL 'mysql://scott:s3/cr3tpw@127.0.0.1:3306/default'"),
            "bad URL 'mysql://scott:***@127.0.0.1:3306/default'");
  EXPECT_EQ(redact("mysql://scott:s3/cr3tpw@127.0.0.1:3306/default: access denied"),
            "mysql://scott:***@127.0.0.1:3306/default: access denied");
  for (const char* bad : {"mysql://scott:s3/cr3tpw@", "mysql://scott:s3/cr3tpw@h:0/db",
                          "mysql://scott:s3/cr3tpw@h:x/db"}) {
    auto e = parse_url(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.status().message().find("cr3t"), std::string::npos) << e.status().message();
  }
}

TEST(Url, APasswordComesFromTheEnvironmentOrAFileWhenTheUrlHasNone) {
  auto u = parse_url("mysql://scott@127.0.0.1:3306/default");
  ASSERT_TRUE(u);
  ::unsetenv("KAPPA_SINK_PASSWORD");
  ::unsetenv("KAPPA_SINK_PASSWORD_FILE");
  ASSERT_TRUE(fill_password(*u).is_ok());
  EXPECT_FALSE(u->password) << "no password anywhere: none";

  ::setenv("KAPPA_SINK_PASSWORD", "s3/cr3t", 1);
  ASSERT_TRUE(fill_password(*u).is_ok());
  EXPECT_EQ(u->password, std::optional<std::string>("s3/cr3t"));
  ::unsetenv("KAPPA_SINK_PASSWORD");

  const std::string file = ::testing::TempDir() + "/url_test_password";
  { std::ofstream(file) << "fr0m-a-file\n"; }
  ::setenv("KAPPA_SINK_PASSWORD_FILE", file.c_str(), 1);
  u->password.reset();
  ASSERT_TRUE(fill_password(*u).is_ok());
  EXPECT_EQ(u->password, std::optional<std::string>("fr0m-a-file"))
      << "the first line, without its newline";

  auto with = parse_url("mysql://scott:tiger@127.0.0.1:3306/default");
  ASSERT_TRUE(fill_password(*with).is_ok());
  EXPECT_EQ(with->password, std::optional<std::string>("tiger")) << "the URL's own password wins";

  ::setenv("KAPPA_SINK_PASSWORD_FILE", (file + ".missing").c_str(), 1);
  u->password.reset();
  const Status missing = fill_password(*u);
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("KAPPA_SINK_PASSWORD_FILE"), std::string::npos)
      << missing.message();
  ::unsetenv("KAPPA_SINK_PASSWORD_FILE");
  std::remove(file.c_str());
}

}  // namespace
}  // namespace kappa
