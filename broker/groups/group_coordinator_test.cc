#include "broker/groups/group_coordinator.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/protocol/error_codes.h"

namespace kappa {
namespace {

namespace err = kafka_error;
using Protocols = std::vector<std::pair<std::string, std::string>>;

constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 30000;
const std::string kGroup = "orders";

// What a callback received; shared, so the callback outlives the test's copy.
template <class R>
struct Reply {
  std::shared_ptr<std::vector<R>> got = std::make_shared<std::vector<R>>();
  std::function<void(R)> callback() const {
    auto sink = got;
    return [sink](R r) { sink->push_back(std::move(r)); };
  }
  bool answered() const { return !got->empty(); }
  size_t calls() const { return got->size(); }
  const R& result() const {
    EXPECT_EQ(got->size(), 1u) << "a callback must run exactly once";
    return got->back();
  }
};
using JoinReply = Reply<JoinGroupResult>;
using SyncReply = Reply<SyncGroupResult>;

GroupCoordinator::Options test_options(int32_t initial_delay_ms = 0) {
  GroupCoordinator::Options o;
  o.initial_rebalance_delay_ms = initial_delay_ms;
  o.member_id_seed = 42;
  return o;
}

JoinGroupArgs join_args(std::string member_id, std::string client_id,
                        Protocols protocols = {{"range", "m"}}, bool require_known = false) {
  JoinGroupArgs a;
  a.group_id = kGroup;
  a.session_timeout_ms = kSession;
  a.rebalance_timeout_ms = kRebalance;
  a.member_id = std::move(member_id);
  a.protocol_type = "consumer";
  a.protocols = std::move(protocols);
  a.require_known_member_id = require_known;
  a.client_id = std::move(client_id);
  a.client_host = "/10.0.0.1";
  return a;
}

// A v5 JoinGroup of a static member (KIP-345).
JoinGroupArgs static_args(std::string member_id, std::string client_id, std::string instance_id,
                          Protocols protocols = {{"range", "m"}}) {
  JoinGroupArgs a = join_args(std::move(member_id), std::move(client_id), std::move(protocols),
                              /*require_known=*/true);
  a.group_instance_id = std::move(instance_id);
  return a;
}

std::vector<GroupCoordinator::MemberIdentity> ids(const std::vector<std::string>& member_ids) {
  std::vector<GroupCoordinator::MemberIdentity> out;
  for (const std::string& id : member_ids) out.push_back({id, std::nullopt});
  return out;
}

JoinReply join(GroupCoordinator& c, JoinGroupArgs a, int64_t now) {
  JoinReply r;
  c.join(std::move(a), now, r.callback());
  return r;
}

SyncReply sync(GroupCoordinator& c, const std::string& member, int32_t generation, int64_t now,
               Protocols assignments = {},
               std::optional<std::string> group_instance_id = std::nullopt) {
  SyncGroupArgs a;
  a.group_id = kGroup;
  a.generation_id = generation;
  a.member_id = member;
  a.group_instance_id = std::move(group_instance_id);
  a.assignments = std::move(assignments);
  SyncReply r;
  c.sync(std::move(a), now, r.callback());
  return r;
}

// Ticks at each deadline up to `until`.
void run_until(GroupCoordinator& c, int64_t until) {
  while (auto d = c.next_deadline()) {
    if (*d > until) break;
    c.tick(*d);
  }
}

std::string state_of(const GroupCoordinator& c) { return c.describe(kGroup)->state; }

// A Stable group of two v0 members, "a" the leader, formed and synced at time 0..1000.
struct TwoMembers {
  std::string a, b;
  int32_t generation = 0;
};
TwoMembers form_stable_pair(GroupCoordinator& c) {
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  EXPECT_TRUE(ja.answered() && jb.answered());
  TwoMembers t{ja.result().member_id, jb.result().member_id, ja.result().generation_id};
  EXPECT_EQ(ja.result().leader, t.a);
  SyncReply sb = sync(c, t.b, t.generation, 1000);
  SyncReply sa = sync(c, t.a, t.generation, 1000, {{t.a, "A"}, {t.b, "B"}});
  EXPECT_EQ(sb.result().assignment, "B");
  EXPECT_EQ(state_of(c), "Stable");
  return t;
}

TEST(GroupCoordinatorTest, TwoStepAndOneStepJoinFormGenerationOneAndSyncDistributes) {
  GroupCoordinator c(test_options(/*initial_delay_ms=*/3000));
  // v4: the unknown member is told its id first.
  JoinReply first =
      join(c, join_args("", "alpha", {{"range", "ar"}, {"roundrobin", "arr"}}, true), 0);
  ASSERT_TRUE(first.answered());
  EXPECT_EQ(first.result().error, err::kMemberIdRequired);
  const std::string a = first.result().member_id;
  EXPECT_EQ(a.rfind("alpha-", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("alpha-").size() + 36);
  EXPECT_EQ(state_of(c), "Empty");

  JoinReply ja = join(c, join_args(a, "alpha", {{"range", "ar"}, {"roundrobin", "arr"}}, true), 0);
  EXPECT_FALSE(ja.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  // v0: added at once. A new member in generation 0 extends the initial delay once more.
  JoinReply jb = join(c, join_args("", "beta", {{"roundrobin", "brr"}, {"range", "br"}}), 1000);
  EXPECT_FALSE(jb.answered());
  EXPECT_EQ(c.next_deadline(), 3000);
  c.tick(3000);
  EXPECT_FALSE(ja.answered());
  EXPECT_EQ(c.next_deadline(), 6000);
  c.tick(6000);
  ASSERT_TRUE(ja.answered() && jb.answered());

  const JoinGroupResult& ra = ja.result();
  const JoinGroupResult& rb = jb.result();
  const std::string b = rb.member_id;
  EXPECT_EQ(b.rfind("beta-", 0), 0u);
  EXPECT_EQ(ra.error, err::kNone);
  EXPECT_EQ(ra.generation_id, 1);
  EXPECT_EQ(rb.generation_id, 1);
  EXPECT_EQ(ra.leader, a);
  EXPECT_EQ(rb.leader, a);
  // One vote each: the tie goes to the leader's preference.
  EXPECT_EQ(ra.protocol_name, "range");
  EXPECT_EQ(ra.protocol_type, "consumer");
  ASSERT_EQ(ra.members.size(), 2u);
  EXPECT_EQ(ra.members[0].member_id, a);
  EXPECT_EQ(ra.members[0].metadata, "ar");
  EXPECT_EQ(ra.members[1].member_id, b);
  EXPECT_EQ(ra.members[1].metadata, "br");
  EXPECT_TRUE(rb.members.empty());
  EXPECT_EQ(state_of(c), "CompletingRebalance");

  // The follower's sync waits for the leader's.
  SyncReply sb = sync(c, b, 1, 6100);
  EXPECT_FALSE(sb.answered());
  EXPECT_EQ(c.heartbeat(kGroup, 1, b, std::nullopt, 6100), err::kNone);
  SyncReply sa = sync(c, a, 1, 6200, {{a, "pa"}, {b, "pb"}, {"stranger", "x"}});
  ASSERT_TRUE(sa.answered() && sb.answered());
  EXPECT_EQ(sa.result().error, err::kNone);
  EXPECT_EQ(sa.result().assignment, "pa");
  EXPECT_EQ(sb.result().assignment, "pb");
  EXPECT_EQ(sb.result().protocol_name, "range");
  EXPECT_EQ(state_of(c), "Stable");
  // In Stable a sync is answered at once with the stored assignment.
  EXPECT_EQ(sync(c, b, 1, 6300).result().assignment, "pb");

  // A third member: everyone rejoins, generation 2.
  JoinReply jc = join(c, join_args("", "gamma", {{"range", "cr"}}), 7000);
  EXPECT_FALSE(jc.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  EXPECT_EQ(c.heartbeat(kGroup, 1, a, std::nullopt, 7100), err::kRebalanceInProgress);
  JoinReply ja2 = join(c, join_args(a, "alpha", {{"range", "ar"}, {"roundrobin", "arr"}}), 7200);
  EXPECT_FALSE(ja2.answered());
  JoinReply jb2 = join(c, join_args(b, "beta", {{"roundrobin", "brr"}, {"range", "br"}}), 7300);
  ASSERT_TRUE(ja2.answered() && jb2.answered() && jc.answered());
  EXPECT_EQ(ja2.result().generation_id, 2);
  EXPECT_EQ(jc.result().generation_id, 2);
  EXPECT_EQ(ja2.result().leader, a);
  EXPECT_EQ(ja2.result().members.size(), 3u);
  EXPECT_EQ(ja2.result().protocol_name, "range");  // gamma supports only range
  auto view = c.describe(kGroup);
  EXPECT_EQ(view->generation_id, 2);
  EXPECT_EQ(view->members, (std::vector<std::string>{a, b, jc.result().member_id}));
}

// A ConsumerProtocolSubscription v0 naming `topics` (what a consumer puts in its JoinGroup).
std::string subscription(const std::vector<std::string>& topics) {
  std::string out("\x00\x00", 2);  // version 0
  auto be = [&](uint32_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  be(static_cast<uint32_t>(topics.size()), 4);
  for (const auto& t : topics) {
    be(static_cast<uint32_t>(t.size()), 2);
    out += t;
  }
  be(0xffffffff, 4);  // user data: null
  return out;
}

// DescribeGroups' summary: member metadata, assignment and protocol only once Stable, as
// Kafka's GroupMetadata.summary; ListGroups' listing; DeleteGroups' check.
TEST(GroupCoordinatorTest, SummaryListingAndDeletionFollowTheState) {
  GroupCoordinator c(test_options());
  EXPECT_FALSE(c.summarize(kGroup, 0).has_value());
  EXPECT_EQ(c.check_delete(kGroup, 0), err::kGroupIdNotFound);
  JoinReply ja = join(c, join_args("", "a", {{"range", subscription({"events"})}}), 0);
  ASSERT_TRUE(ja.answered());
  const std::string a = ja.result().member_id;
  auto completing = c.summarize(kGroup, 0);
  ASSERT_TRUE(completing);
  EXPECT_EQ(completing->state, "CompletingRebalance");
  EXPECT_EQ(completing->protocol_type, "consumer");
  EXPECT_EQ(completing->protocol_data, "");
  ASSERT_EQ(completing->members.size(), 1u);
  EXPECT_EQ(completing->members[0].metadata, "");
  EXPECT_EQ(c.check_delete(kGroup, 0), err::kNonEmptyGroup);
  sync(c, a, 1, 100, {{a, "assigned"}});
  auto stable = c.summarize(kGroup, 100);
  ASSERT_TRUE(stable);
  EXPECT_EQ(stable->state, "Stable");
  EXPECT_EQ(stable->protocol_data, "range");
  ASSERT_EQ(stable->members.size(), 1u);
  EXPECT_EQ(stable->members[0].member_id, a);
  EXPECT_EQ(stable->members[0].client_id, "a");
  EXPECT_EQ(stable->members[0].client_host, "/10.0.0.1");
  EXPECT_EQ(stable->members[0].metadata, subscription({"events"}));
  EXPECT_EQ(stable->members[0].assignment, "assigned");
  auto listed = c.list(100);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].group_id, kGroup);
  EXPECT_EQ(listed[0].protocol_type, "consumer");
  EXPECT_EQ(listed[0].state, "Stable");
  EXPECT_EQ(c.check_delete(kGroup, 100), err::kNonEmptyGroup);
  // The session runs out unseen: the summary carries out the expiry first.
  auto expired = c.summarize(kGroup, 100 + kSession + 1);
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->state, "Empty");
  EXPECT_TRUE(expired->members.empty());
  EXPECT_EQ(expired->protocol_type, "consumer") << "an Empty group keeps its protocol type";
  EXPECT_EQ(c.check_delete(kGroup, 100 + kSession + 1), err::kNone);
  c.remove(kGroup);
  EXPECT_FALSE(c.summarize(kGroup, 100 + kSession + 2).has_value());
  EXPECT_TRUE(c.list(100 + kSession + 2).empty());
  EXPECT_EQ(c.next_deadline(), std::nullopt) << "no timer is left for a removed group";
  // The id can be used again: a new group.
  JoinReply again = join(c, join_args("", "a"), 100 + kSession + 3);
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.result().generation_id, 1);
}

// OffsetDelete's check: an Empty group may lose any offset; a consumer group with members keeps
// the offsets of the topics they subscribe to; a subscription that does not parse protects every
// topic; a group of another protocol with members refuses (NON_EMPTY_GROUP).
TEST(GroupCoordinatorTest, OffsetDeleteSparesTheTopicsMembersSubscribeTo) {
  GroupCoordinator c(test_options());
  const std::vector<std::string> topics = {"events", "other"};
  std::vector<bool> subscribed;
  EXPECT_EQ(c.check_offset_delete(kGroup, topics, 0, subscribed), err::kGroupIdNotFound);
  EXPECT_EQ(c.validate_commit(kGroup, -1, "", std::nullopt, 0),
            err::kNone);  // a group of offsets only
  EXPECT_TRUE(c.is_empty(kGroup));
  EXPECT_EQ(c.check_offset_delete(kGroup, topics, 0, subscribed), err::kNone);
  EXPECT_EQ(subscribed, (std::vector<bool>{false, false}));

  JoinReply ja = join(c, join_args("", "a", {{"range", subscription({"events"})}}), 0);
  ASSERT_TRUE(ja.answered());
  EXPECT_FALSE(c.is_empty(kGroup));
  EXPECT_EQ(c.check_offset_delete(kGroup, topics, 0, subscribed), err::kNone);
  EXPECT_EQ(subscribed, (std::vector<bool>{true, false}));
  // A member whose metadata is not a subscription: every topic is protected.
  GroupCoordinator pair(test_options(/*initial_delay_ms=*/3000));
  JoinReply jx = join(pair, join_args("", "x", {{"range", subscription({"events"})}}), 0);
  JoinReply jy = join(pair, join_args("", "y", {{"range", "garbage"}}), 0);
  run_until(pair, 10000);
  ASSERT_TRUE(jx.answered() && jy.answered());
  EXPECT_EQ(pair.check_offset_delete(kGroup, topics, 10000, subscribed), err::kNone);
  EXPECT_EQ(subscribed, (std::vector<bool>{true, true}));

  GroupCoordinator other(test_options());
  JoinGroupArgs connect = join_args("", "w");
  connect.protocol_type = "connect";
  JoinReply jw = join(other, connect, 0);
  ASSERT_TRUE(jw.answered());
  EXPECT_EQ(other.check_offset_delete(kGroup, topics, 0, subscribed), err::kNonEmptyGroup);
}

TEST(GroupCoordinatorTest, FirstJoinWithoutInitialDelayCompletesAtOnce) {
  GroupCoordinator c(test_options(0));
  JoinReply j = join(c, join_args("", "solo"), 0);
  ASSERT_TRUE(j.answered());
  EXPECT_EQ(j.result().generation_id, 1);
  EXPECT_EQ(j.result().leader, j.result().member_id);
  EXPECT_EQ(j.result().members.size(), 1u);
  EXPECT_EQ(state_of(c), "CompletingRebalance");
}

TEST(GroupCoordinatorTest, ProtocolVoteAmongProtocolsAllMembersSupport) {
  GroupCoordinator c(test_options(100));
  JoinReply ja = join(c, join_args("", "a", {{"range", ""}, {"roundrobin", ""}}), 0);
  JoinReply jb = join(c, join_args("", "b", {{"roundrobin", ""}, {"range", ""}}), 0);
  JoinReply jc =
      join(c, join_args("", "c", {{"sticky", ""}, {"roundrobin", ""}, {"range", ""}}), 0);
  // A protocol nobody else supports, or another protocol type, is refused.
  JoinReply jd = join(c, join_args("", "d", {{"sticky", ""}}), 0);
  EXPECT_EQ(jd.result().error, err::kInconsistentGroupProtocol);
  JoinGroupArgs other_type = join_args("", "e", {{"range", ""}});
  other_type.protocol_type = "connect";
  EXPECT_EQ(join(c, other_type, 0).result().error, err::kInconsistentGroupProtocol);
  run_until(c, 1000);
  // sticky is not common; a votes range, b and c (first common choice) roundrobin.
  EXPECT_EQ(ja.result().protocol_name, "roundrobin");
  EXPECT_EQ(jc.result().protocol_name, "roundrobin");
  EXPECT_EQ(ja.result().members.size(), 3u);
}

TEST(GroupCoordinatorTest, JoinValidation) {
  GroupCoordinator::Options o = test_options(0);
  o.max_group_size = 2;
  GroupCoordinator c(o);
  JoinGroupArgs no_group = join_args("", "x");
  no_group.group_id = "";
  EXPECT_EQ(join(c, no_group, 0).result().error, err::kInvalidGroupId);
  JoinGroupArgs short_session = join_args("", "x");
  short_session.session_timeout_ms = 5999;
  EXPECT_EQ(join(c, short_session, 0).result().error, err::kInvalidSessionTimeout);
  JoinGroupArgs long_session = join_args("", "x");
  long_session.session_timeout_ms = 1800001;
  EXPECT_EQ(join(c, long_session, 0).result().error, err::kInvalidSessionTimeout);
  // A member id for a group that does not exist: refused, and no group is made.
  EXPECT_EQ(join(c, join_args("ghost", "x"), 0).result().error, err::kUnknownMemberId);
  EXPECT_FALSE(c.describe(kGroup).has_value());
  EXPECT_EQ(join(c, join_args("", "x", {}), 0).result().error, err::kInconsistentGroupProtocol);

  JoinReply a = join(c, join_args("", "a"), 0);
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(join(c, join_args("ghost", "x"), 0).result().error, err::kUnknownMemberId);
  JoinReply b = join(c, join_args("", "b"), 0);
  JoinReply a2 = join(c, join_args(a.result().member_id, "a"), 0);
  ASSERT_TRUE(b.answered() && a2.answered());
  EXPECT_EQ(state_of(c), "CompletingRebalance");
  JoinReply third = join(c, join_args("", "c"), 0);
  ASSERT_TRUE(third.answered());
  EXPECT_EQ(third.result().error, err::kGroupMaxSizeReached);
  EXPECT_EQ(third.result().member_id, "");
  EXPECT_EQ(state_of(c), "CompletingRebalance");
}

TEST(GroupCoordinatorTest, HeartbeatErrorsPerState) {
  GroupCoordinator c(test_options(100));
  EXPECT_EQ(c.heartbeat("", 0, "m", std::nullopt, 0), err::kInvalidGroupId);
  EXPECT_EQ(c.heartbeat(kGroup, 0, "m", std::nullopt, 0), err::kUnknownMemberId);  // no such group
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  // CompletingRebalance
  EXPECT_EQ(c.heartbeat(kGroup, 1, a, std::nullopt, 1000), err::kNone);
  EXPECT_EQ(c.heartbeat(kGroup, 0, a, std::nullopt, 1000), err::kIllegalGeneration);
  EXPECT_EQ(c.heartbeat(kGroup, 1, "stranger", std::nullopt, 1000), err::kUnknownMemberId);
  // Stable
  sync(c, a, 1, 1000, {{a, "A"}, {b, "B"}});
  EXPECT_EQ(c.heartbeat(kGroup, 1, b, std::nullopt, 1100), err::kNone);
  EXPECT_EQ(c.heartbeat(kGroup, 2, b, std::nullopt, 1100), err::kIllegalGeneration);
  // PreparingRebalance
  JoinReply ja2 = join(c, join_args(a, "a"), 1200);
  EXPECT_EQ(c.heartbeat(kGroup, 1, b, std::nullopt, 1300), err::kRebalanceInProgress);
  EXPECT_EQ(c.heartbeat(kGroup, 1, a, std::nullopt, 1300), err::kRebalanceInProgress);
  // Empty: every member left.
  c.leave(kGroup, ids({a, b}), 1400);
  EXPECT_EQ(state_of(c), "Empty");
  EXPECT_EQ(c.heartbeat(kGroup, 2, a, std::nullopt, 1500), err::kUnknownMemberId);
  EXPECT_EQ(ja2.result().error, err::kUnknownMemberId);
}

TEST(GroupCoordinatorTest, SessionExpiryRebalancesAndTheSurvivorGetsAll) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  EXPECT_EQ(c.next_deadline(), 1000 + kSession);
  EXPECT_EQ(c.heartbeat(kGroup, t.generation, t.a, std::nullopt, 5000), err::kNone);
  EXPECT_EQ(c.next_deadline(), 1000 + kSession);  // b's
  c.tick(1000 + kSession - 1);
  EXPECT_EQ(state_of(c), "Stable");
  c.tick(1000 + kSession);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  EXPECT_EQ(c.describe(kGroup)->members, std::vector<std::string>{t.a});
  EXPECT_EQ(c.heartbeat(kGroup, t.generation, t.a, std::nullopt, 11500), err::kRebalanceInProgress);
  JoinReply ja = join(c, join_args(t.a, "a"), 12000);
  ASSERT_TRUE(ja.answered());
  EXPECT_EQ(ja.result().generation_id, t.generation + 1);
  EXPECT_EQ(ja.result().leader, t.a);
  ASSERT_EQ(ja.result().members.size(), 1u);
  SyncReply sa = sync(c, t.a, t.generation + 1, 12100, {{t.a, "partitions 0-7"}});
  EXPECT_EQ(sa.result().assignment, "partitions 0-7");
  EXPECT_EQ(c.heartbeat(kGroup, t.generation + 1, t.b, std::nullopt, 12200), err::kUnknownMemberId);
}

TEST(GroupCoordinatorTest, WorkThatFellDueIsDoneBeforeARequest) {
  // Whether or not tick() ran, a request sees the group as of its own time.
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  EXPECT_EQ(c.heartbeat(kGroup, t.generation, t.b, std::nullopt, 1000 + kSession),
            err::kUnknownMemberId);
  // Both sessions ended at that instant; the rebalance completed with nobody: Empty.
  auto view = c.describe(kGroup);
  EXPECT_EQ(view->state, "Empty");
  EXPECT_EQ(view->generation_id, t.generation + 1);
  EXPECT_TRUE(view->members.empty());
}

TEST(GroupCoordinatorTest, RebalanceTimeoutRemovesAMemberThatNeverRejoined) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  JoinReply jc = join(c, join_args("", "c"), 2000);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply ja = join(c, join_args(t.a, "a"), 3000);
  // b keeps its session alive but never rejoins.
  for (int64_t at : {9000, 18000, 27000}) {
    EXPECT_EQ(c.heartbeat(kGroup, t.generation, t.b, std::nullopt, at), err::kRebalanceInProgress);
  }
  c.tick(2000 + kRebalance - 1);
  EXPECT_FALSE(ja.answered());
  c.tick(2000 + kRebalance);
  ASSERT_TRUE(ja.answered() && jc.answered());
  EXPECT_EQ(ja.result().generation_id, t.generation + 1);
  EXPECT_EQ(ja.result().leader, t.a);
  ASSERT_EQ(ja.result().members.size(), 2u);
  EXPECT_EQ(ja.result().members[1].member_id, jc.result().member_id);
  EXPECT_EQ(c.heartbeat(kGroup, t.generation + 1, t.b, std::nullopt, 32100), err::kUnknownMemberId);
}

TEST(GroupCoordinatorTest, LeaveHandsLeadershipOverAndTheLastLeaveEmptiesTheGroup) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  EXPECT_EQ(c.leave("", ids({t.a}), 2000).error, err::kInvalidGroupId);
  auto unknown_group = c.leave("nope", ids({t.a}), 2000);
  EXPECT_EQ(unknown_group.error, err::kNone);
  EXPECT_EQ(unknown_group.member_errors, std::vector<int16_t>{err::kUnknownMemberId});

  auto left = c.leave(kGroup, ids({"stranger", t.a}), 2000);
  EXPECT_EQ(left.error, err::kNone);
  EXPECT_EQ(left.member_errors, (std::vector<int16_t>{err::kUnknownMemberId, err::kNone}));
  auto view = c.describe(kGroup);
  EXPECT_EQ(view->state, "PreparingRebalance");
  EXPECT_EQ(view->leader, t.b);
  JoinReply jb = join(c, join_args(t.b, "b"), 2100);
  ASSERT_TRUE(jb.answered());
  EXPECT_EQ(jb.result().leader, t.b);
  EXPECT_EQ(jb.result().generation_id, t.generation + 1);
  EXPECT_EQ(jb.result().members.size(), 1u);

  EXPECT_EQ(c.leave(kGroup, ids({t.b}), 2200).member_errors, std::vector<int16_t>{err::kNone});
  view = c.describe(kGroup);
  EXPECT_EQ(view->state, "Empty");
  EXPECT_EQ(view->generation_id, t.generation + 2);  // the empty generation counts, as Kafka
  EXPECT_EQ(view->leader, "");
  EXPECT_EQ(view->protocol_name, "");
  EXPECT_FALSE(c.next_deadline().has_value());
}

TEST(GroupCoordinatorTest, LeavingWhileTheSyncWaitsAnswersItWithUnknownMember) {
  GroupCoordinator c(test_options(100));
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  SyncReply sb = sync(c, b, 1, 1000);
  ASSERT_FALSE(sb.answered());
  c.leave(kGroup, ids({b}), 1100);
  EXPECT_EQ(sb.result().error, err::kUnknownMemberId);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply ja2 = join(c, join_args(a, "a"), 1300);
  ASSERT_TRUE(ja2.answered());
  EXPECT_EQ(ja2.result().generation_id, 2);
  EXPECT_EQ(ja2.result().members.size(), 1u);
}

TEST(GroupCoordinatorTest, LeavingWhileTheJoinWaitsAnswersItWithUnknownMember) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  JoinReply jb = join(c, join_args(t.b, "b", {{"range", "changed"}}), 2000);
  EXPECT_FALSE(jb.answered());
  c.leave(kGroup, ids({t.b}), 2100);
  EXPECT_EQ(jb.result().error, err::kUnknownMemberId);
  JoinReply ja = join(c, join_args(t.a, "a"), 2200);
  EXPECT_EQ(ja.result().members.size(), 1u);
}

TEST(GroupCoordinatorTest, CommitValidation) {
  GroupCoordinator c(test_options(100));
  // A group that only stores offsets.
  EXPECT_EQ(c.validate_commit("offsets-only", -1, "", std::nullopt, 0), err::kNone);
  EXPECT_EQ(c.describe("offsets-only")->state, "Empty");
  EXPECT_EQ(c.validate_commit("missing", 3, "m", std::nullopt, 0), err::kIllegalGeneration);
  EXPECT_EQ(c.validate_commit("missing", -1, "m", std::nullopt, 0), err::kUnknownMemberId);

  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  EXPECT_EQ(c.validate_commit(kGroup, -1, "", std::nullopt, 1000),
            err::kUnknownMemberId);  // has members
  EXPECT_EQ(c.validate_commit(kGroup, 1, "stranger", std::nullopt, 1000), err::kUnknownMemberId);
  EXPECT_EQ(c.validate_commit(kGroup, 0, a, std::nullopt, 1000), err::kIllegalGeneration);
  EXPECT_EQ(c.validate_commit(kGroup, 1, a, std::nullopt, 1000),
            err::kRebalanceInProgress);  // Completing
  sync(c, b, 1, 1000);
  sync(c, a, 1, 1000, {{a, "A"}, {b, "B"}});
  EXPECT_EQ(c.validate_commit(kGroup, 1, a, std::nullopt, 1000), err::kNone);
  // A commit keeps the session alive like a heartbeat.
  EXPECT_EQ(c.validate_commit(kGroup, 1, a, std::nullopt, 9000), err::kNone);
  EXPECT_EQ(c.heartbeat(kGroup, 1, b, std::nullopt, 9000), err::kNone);
  c.tick(1000 + kSession);
  EXPECT_EQ(c.validate_commit(kGroup, 1, a, std::nullopt, 1000 + kSession), err::kNone);
  // PreparingRebalance: the current generation may still commit.
  join(c, join_args("", "c"), 12000);
  EXPECT_EQ(c.validate_commit(kGroup, 1, b, std::nullopt, 12000), err::kNone);
}

TEST(GroupCoordinatorTest, SyncErrorsAndARebalanceCancelsWaitingSyncs) {
  GroupCoordinator c(test_options(100));
  EXPECT_EQ(sync(c, "m", 1, 0).result().error, err::kUnknownMemberId);  // no such group
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  EXPECT_EQ(sync(c, "stranger", 1, 1000).result().error, err::kUnknownMemberId);
  EXPECT_EQ(sync(c, b, 2, 1000).result().error, err::kIllegalGeneration);
  SyncGroupArgs wrong_protocol;
  wrong_protocol.group_id = kGroup;
  wrong_protocol.generation_id = 1;
  wrong_protocol.member_id = b;
  wrong_protocol.protocol_name = "roundrobin";
  SyncReply wp;
  c.sync(wrong_protocol, 1000, wp.callback());
  EXPECT_EQ(wp.result().error, err::kInconsistentGroupProtocol);

  SyncReply sb = sync(c, b, 1, 1000);
  EXPECT_FALSE(sb.answered());
  // A third member starts a rebalance while b waits.
  JoinReply jc = join(c, join_args("", "c"), 1100);
  EXPECT_EQ(sb.result().error, err::kRebalanceInProgress);
  EXPECT_EQ(sync(c, a, 1, 1200, {{a, "A"}}).result().error, err::kRebalanceInProgress);
  EXPECT_FALSE(jc.answered());
}

TEST(GroupCoordinatorTest, RejoinInStable) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  // A follower with the same metadata gets the current generation back; nothing changes.
  JoinReply jb = join(c, join_args(t.b, "b"), 2000);
  ASSERT_TRUE(jb.answered());
  EXPECT_EQ(jb.result().generation_id, t.generation);
  EXPECT_EQ(jb.result().leader, t.a);
  EXPECT_TRUE(jb.result().members.empty());
  EXPECT_EQ(state_of(c), "Stable");
  // The leader's rejoin always rebalances.
  JoinReply ja = join(c, join_args(t.a, "a"), 2100);
  EXPECT_FALSE(ja.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply jb2 = join(c, join_args(t.b, "b", {{"range", "new topics"}}), 2200);
  ASSERT_TRUE(ja.answered());
  EXPECT_EQ(ja.result().generation_id, t.generation + 1);
  EXPECT_EQ(ja.result().members[1].metadata, "new topics");
  // In CompletingRebalance a repeated join with the same metadata repeats the answer.
  JoinReply ja3 = join(c, join_args(t.a, "a"), 2300);
  ASSERT_TRUE(ja3.answered());
  EXPECT_EQ(ja3.result().generation_id, t.generation + 1);
  EXPECT_EQ(ja3.result().members.size(), 2u);
  EXPECT_EQ(state_of(c), "CompletingRebalance");
}

TEST(GroupCoordinatorTest, ARepeatedJoinAnswersTheEarlierOneAndTakesItsPlace) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  JoinReply first = join(c, join_args(t.a, "a"), 2000);
  JoinReply second = join(c, join_args(t.a, "a"), 2100);
  ASSERT_TRUE(first.answered());
  EXPECT_EQ(first.result().error, err::kRebalanceInProgress);
  EXPECT_EQ(first.result().member_id, t.a);
  EXPECT_FALSE(second.answered());
  JoinReply jb = join(c, join_args(t.b, "b"), 2200);
  EXPECT_EQ(second.result().generation_id, t.generation + 1);
  EXPECT_EQ(first.calls(), 1u);
}

TEST(GroupCoordinatorTest, PendingMemberHoldsTheRebalanceUntilItJoinsOrExpires) {
  GroupCoordinator c(test_options(100));
  TwoMembers t = form_stable_pair(c);
  JoinReply pending = join(c, join_args("", "d", {{"range", ""}}, true), 2000);
  EXPECT_EQ(pending.result().error, err::kMemberIdRequired);
  EXPECT_EQ(state_of(c), "Stable");  // nothing changes until it joins with its id
  JoinReply ja = join(c, join_args(t.a, "a"), 2100);
  JoinReply jb = join(c, join_args(t.b, "b"), 2200);
  EXPECT_FALSE(ja.answered()) << "the pending member is still expected";
  c.tick(2000 + kSession);
  ASSERT_TRUE(ja.answered() && jb.answered());
  EXPECT_EQ(ja.result().members.size(), 2u);
  // Its id is forgotten.
  EXPECT_EQ(join(c, join_args(pending.result().member_id, "d"), 12100).result().error,
            err::kUnknownMemberId);
}

TEST(GroupCoordinatorTest, ALeaderThatNeverSyncsIsRemovedAfterTheRebalanceTimeout) {
  GroupCoordinator c(test_options(100));
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  const int64_t completed = 200;
  SyncReply sb = sync(c, b, 1, 300);
  for (int64_t at = 5000; at < completed + kRebalance; at += 5000) {
    EXPECT_EQ(c.heartbeat(kGroup, 1, a, std::nullopt, at), err::kNone);
  }
  EXPECT_EQ(c.next_deadline(), completed + kRebalance);
  c.tick(completed + kRebalance);
  EXPECT_EQ(sb.result().error, err::kRebalanceInProgress);
  EXPECT_EQ(c.describe(kGroup)->members, std::vector<std::string>{b});
  EXPECT_EQ(c.describe(kGroup)->leader, b);
}

TEST(GroupCoordinatorTest, ANewMemberThatNeverCompletesItsFirstJoinIsDropped) {
  GroupCoordinator::Options o = test_options(100);
  o.new_member_join_timeout_ms = 50000;
  GroupCoordinator c(o);
  // Members with a long rebalance timeout, so the rebalance below outlasts the new member.
  JoinGroupArgs slow_a = join_args("", "a");
  JoinGroupArgs slow_b = join_args("", "b");
  slow_a.rebalance_timeout_ms = slow_b.rebalance_timeout_ms = 600000;
  JoinReply ja = join(c, slow_a, 0);
  JoinReply jb = join(c, slow_b, 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, b = jb.result().member_id;
  sync(c, b, 1, 1000);
  sync(c, a, 1, 1000, {{a, "A"}, {b, "B"}});
  JoinReply jc = join(c, join_args("", "c"), 2000);
  EXPECT_EQ(c.next_deadline(), 1000 + kSession);  // the sessions come before the rebalance
  for (int64_t at = 9000; at < 60000; at += 9000) {
    EXPECT_EQ(c.heartbeat(kGroup, 1, a, std::nullopt, at), err::kRebalanceInProgress);
    EXPECT_EQ(c.heartbeat(kGroup, 1, b, std::nullopt, at), err::kRebalanceInProgress);
    c.tick(at);
  }
  ASSERT_TRUE(jc.answered());
  EXPECT_EQ(jc.result().error, err::kUnknownMemberId);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  EXPECT_EQ(c.describe(kGroup)->members, (std::vector<std::string>{a, b}));
}

// ---------------------------------------------------------------------------------------------
// Static membership (KIP-345), as Kafka's classic groups.

// A Stable group of a static member (instance "s1", client "a") leading a dynamic one ("b").
struct StaticAndDynamic {
  std::string s, b;
};
StaticAndDynamic form_static_leader_and_follower(GroupCoordinator& c) {
  JoinReply js = join(c, static_args("", "a", "s1"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  EXPECT_TRUE(js.answered() && jb.answered());
  StaticAndDynamic t{js.result().member_id, jb.result().member_id};
  EXPECT_EQ(js.result().leader, t.s);
  sync(c, t.b, 1, 1000);
  sync(c, t.s, 1, 1000, {{t.s, "A"}, {t.b, "B"}}, "s1");
  EXPECT_EQ(state_of(c), "Stable");
  return t;
}

TEST(GroupCoordinatorTest, AStaticMemberIsNotAskedForAnIdAndIsNamedAfterItsInstance) {
  GroupCoordinator c(test_options());
  JoinReply j = join(c, static_args("", "app", "static-1"), 0);
  ASSERT_TRUE(j.answered());
  EXPECT_EQ(j.result().error, err::kNone) << "no MEMBER_ID_REQUIRED for a static member";
  EXPECT_EQ(j.result().generation_id, 1);
  const std::string s = j.result().member_id;
  EXPECT_EQ(s.rfind("static-1-", 0), 0u) << s;
  EXPECT_EQ(s.size(), std::string("static-1-").size() + 36);
  ASSERT_EQ(j.result().members.size(), 1u);
  EXPECT_EQ(j.result().members[0].group_instance_id, "static-1");
  sync(c, s, 1, 100, {{s, "A"}}, "static-1");
  auto summary = c.summarize(kGroup, 100);
  ASSERT_TRUE(summary && summary->members.size() == 1u);
  EXPECT_EQ(summary->members[0].group_instance_id, "static-1");
  EXPECT_EQ(c.heartbeat(kGroup, 1, s, "static-1", 200), err::kNone);
  EXPECT_EQ(c.heartbeat(kGroup, 1, s, std::nullopt, 200), err::kNone);
  // Another instance id, or an id that holds none, is not this member.
  EXPECT_EQ(c.heartbeat(kGroup, 1, s, "static-2", 200), err::kUnknownMemberId);
  // Only dynamic members are ever pending: a pending id with an instance id is Kafka's internal
  // error, and the pending member stays pending.
  JoinReply pending = join(c, join_args("", "d", {{"range", "m"}}, true), 300);
  ASSERT_EQ(pending.result().error, err::kMemberIdRequired);
  JoinGroupArgs odd = static_args(pending.result().member_id, "d", "static-3");
  EXPECT_EQ(join(c, odd, 300).result().error, err::kUnknownServerError);
  EXPECT_EQ(state_of(c), "Stable");
}

TEST(GroupCoordinatorTest, AStaticMemberRejoiningWithoutItsIdTakesItsPlaceInStableAtOnce) {
  GroupCoordinator c(test_options(100));
  StaticAndDynamic t = form_static_leader_and_follower(c);
  // The member's process restarted: it has lost its member id, not its instance id.
  JoinReply jr = join(c, static_args("", "a2", "s1"), 2000);
  ASSERT_TRUE(jr.answered());
  const JoinGroupResult& r = jr.result();
  EXPECT_EQ(r.error, err::kNone);
  EXPECT_NE(r.member_id, t.s);
  EXPECT_EQ(r.member_id.rfind("s1-", 0), 0u) << r.member_id;
  EXPECT_EQ(r.generation_id, 1) << "no rebalance";
  EXPECT_EQ(r.protocol_name, "range");
  EXPECT_EQ(r.protocol_type, "consumer");
  // Before JoinGroup v9, Kafka names the leader as it was: the replaced leader goes on as a
  // follower and does not reassign.
  EXPECT_EQ(r.leader, t.s);
  EXPECT_TRUE(r.members.empty());
  const std::string n = r.member_id;
  auto view = c.describe(kGroup);
  EXPECT_EQ(view->state, "Stable");
  EXPECT_EQ(view->generation_id, 1);
  EXPECT_EQ(view->leader, n);
  EXPECT_EQ(view->members, (std::vector<std::string>{n, t.b})) << "it keeps its place";
  // Its assignment is the instance's.
  SyncReply sn = sync(c, n, 1, 2100, {}, "s1");
  EXPECT_EQ(sn.result().error, err::kNone);
  EXPECT_EQ(sn.result().assignment, "A");
  EXPECT_EQ(c.heartbeat(kGroup, 1, n, "s1", 2100), err::kNone);
  auto summary = c.summarize(kGroup, 2100);
  ASSERT_EQ(summary->members.size(), 2u);
  EXPECT_EQ(summary->members[0].member_id, n);
  EXPECT_EQ(summary->members[0].group_instance_id, "s1");
  EXPECT_EQ(summary->members[0].client_id, "a") << "Kafka keeps the replaced member's client";
  EXPECT_EQ(summary->members[0].assignment, "A");

  // The old id, with the instance id, is fenced everywhere; without it, it is simply unknown.
  EXPECT_EQ(c.heartbeat(kGroup, 1, t.s, "s1", 2200), err::kFencedInstanceId);
  EXPECT_EQ(c.heartbeat(kGroup, 1, t.s, std::nullopt, 2200), err::kUnknownMemberId);
  EXPECT_EQ(c.heartbeat(kGroup, 1, t.b, "s1", 2200), err::kFencedInstanceId);
  EXPECT_EQ(sync(c, t.s, 1, 2200, {}, "s1").result().error, err::kFencedInstanceId);
  EXPECT_EQ(sync(c, t.s, 1, 2200).result().error, err::kUnknownMemberId);
  EXPECT_EQ(c.validate_commit(kGroup, 1, t.s, "s1", 2200), err::kFencedInstanceId);
  EXPECT_EQ(c.validate_commit(kGroup, 1, n, "s1", 2200), err::kNone);
  EXPECT_EQ(c.validate_commit(kGroup, -1, "", "s1", 2200), err::kFencedInstanceId);
  JoinReply old_join = join(c, static_args(t.s, "a", "s1"), 2200);
  EXPECT_EQ(old_join.result().error, err::kFencedInstanceId);
  EXPECT_EQ(old_join.result().member_id, t.s);
  std::vector<GroupCoordinator::MemberIdentity> old_leave{{t.s, "s1"}};
  EXPECT_EQ(c.leave(kGroup, old_leave, 2200).member_errors,
            std::vector<int16_t>{err::kFencedInstanceId});
  EXPECT_EQ(state_of(c), "Stable") << "nothing the old id did changed the group";

  // The follower sees the new id lead; the new leader's own rejoin rebalances, as any leader's.
  JoinReply jb = join(c, join_args(t.b, "b"), 2300);
  EXPECT_EQ(jb.result().leader, n);
  JoinReply jn = join(c, static_args(n, "a2", "s1"), 2400);
  EXPECT_FALSE(jn.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
}

TEST(GroupCoordinatorTest, AReplacementRebalancesInStableOnlyIfTheGroupsProtocolWouldChange) {
  GroupCoordinator c(test_options(100));
  JoinReply ja = join(c, join_args("", "a", {{"range", "a"}, {"roundrobin", "a"}}), 0);
  JoinReply js = join(c, static_args("", "s", "s2", {{"range", "s"}, {"roundrobin", "s"}}), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, s = js.result().member_id;
  sync(c, s, 1, 1000);
  sync(c, a, 1, 1000, {{a, "A"}, {s, "S"}});
  ASSERT_EQ(state_of(c), "Stable");
  // New metadata for the same protocol: no rebalance, and the group knows the new metadata.
  JoinReply j1 =
      join(c, static_args("", "s", "s2", {{"range", "s-new"}, {"roundrobin", "s"}}), 2000);
  ASSERT_TRUE(j1.answered());
  EXPECT_EQ(j1.result().error, err::kNone);
  EXPECT_EQ(j1.result().leader, a);
  EXPECT_EQ(state_of(c), "Stable");
  EXPECT_EQ(c.summarize(kGroup, 2000)->members[1].metadata, "s-new");
  EXPECT_EQ(sync(c, j1.result().member_id, 1, 2000).result().assignment, "S");
  // Protocols under which the vote goes another way: the group rebalances.
  JoinReply j2 = join(c, static_args("", "s", "s2", {{"roundrobin", "s"}}), 3000);
  EXPECT_FALSE(j2.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply ja2 = join(c, join_args(a, "a", {{"range", "a"}, {"roundrobin", "a"}}), 3100);
  ASSERT_TRUE(ja2.answered() && j2.answered());
  EXPECT_EQ(j2.result().generation_id, 2);
  EXPECT_EQ(j2.result().protocol_name, "roundrobin");
  EXPECT_EQ(j2.result().member_id.rfind("s2-", 0), 0u);
  EXPECT_EQ(ja2.result().members.size(), 2u);
}

TEST(GroupCoordinatorTest, AReplacementFencesWhatTheOldIdWaitsForAndRebalancesIfNotStable) {
  GroupCoordinator c(test_options(100));
  JoinReply ja = join(c, join_args("", "a"), 0);
  JoinReply js = join(c, static_args("", "s", "s1"), 0);
  run_until(c, 1000);
  const std::string a = ja.result().member_id, s = js.result().member_id;
  ASSERT_EQ(state_of(c), "CompletingRebalance");
  // CompletingRebalance: the leader may assign to the old id, so the generation starts over.
  SyncReply old_sync = sync(c, s, 1, 1000, {}, "s1");
  ASSERT_FALSE(old_sync.answered());
  JoinReply j1 = join(c, static_args("", "s", "s1"), 1100);
  EXPECT_EQ(old_sync.result().error, err::kFencedInstanceId);
  EXPECT_FALSE(j1.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply ja2 = join(c, join_args(a, "a"), 1200);
  ASSERT_TRUE(ja2.answered() && j1.answered());
  const std::string s1 = j1.result().member_id;
  EXPECT_EQ(j1.result().generation_id, 2);
  ASSERT_EQ(ja2.result().members.size(), 2u);
  EXPECT_EQ(ja2.result().members[1].member_id, s1);
  EXPECT_EQ(ja2.result().members[1].group_instance_id, "s1");
  sync(c, s1, 2, 1300);
  sync(c, a, 2, 1300, {{a, "A"}, {s1, "S"}});
  ASSERT_EQ(state_of(c), "Stable");
  // PreparingRebalance: the old id's waiting JoinGroup is fenced, the new id waits in its place.
  JoinReply old_join = join(c, static_args(s1, "s", "s1", {{"range", "changed"}}), 2000);
  ASSERT_FALSE(old_join.answered());
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  JoinReply j2 = join(c, static_args("", "s", "s1"), 2100);
  EXPECT_EQ(old_join.result().error, err::kFencedInstanceId);
  EXPECT_EQ(old_join.result().member_id, s1);
  EXPECT_FALSE(j2.answered());
  JoinReply ja3 = join(c, join_args(a, "a"), 2200);
  ASSERT_TRUE(ja3.answered() && j2.answered()) << "everyone has rejoined";
  EXPECT_EQ(j2.result().generation_id, 3);
  EXPECT_EQ(ja3.result().members[1].member_id, j2.result().member_id);
  EXPECT_EQ(ja3.result().members[1].metadata, "m");
  EXPECT_EQ(old_join.calls(), 1u);
}

TEST(GroupCoordinatorTest, AStaticMemberThatDoesNotRejoinStaysUntilItsSessionEnds) {
  GroupCoordinator c(test_options(100));
  StaticAndDynamic t = form_static_leader_and_follower(c);
  JoinReply jc = join(c, join_args("", "c"), 2000);
  JoinReply jb = join(c, join_args(t.b, "b"), 2100);
  // s keeps its session alive but does not rejoin before the rebalance times out.
  for (int64_t at : {9000, 18000, 27000}) {
    EXPECT_EQ(c.heartbeat(kGroup, 1, t.s, "s1", at), err::kRebalanceInProgress);
  }
  c.tick(2000 + kRebalance);
  ASSERT_TRUE(jb.answered() && jc.answered());
  // A dynamic member would be out now; the static one stays, and the leadership it did not
  // claim goes to the earliest-joined member that rejoined.
  EXPECT_EQ(jb.result().generation_id, 2);
  EXPECT_EQ(jb.result().leader, t.b);
  ASSERT_EQ(jb.result().members.size(), 3u);
  EXPECT_EQ(jb.result().members[0].member_id, t.s);
  EXPECT_EQ(jb.result().members[0].group_instance_id, "s1");
  EXPECT_EQ(c.describe(kGroup)->members,
            (std::vector<std::string>{t.s, t.b, jc.result().member_id}));
  EXPECT_EQ(c.heartbeat(kGroup, 1, t.s, "s1", 32100), err::kIllegalGeneration);
  // Its rejoin with unchanged metadata gets the generation it is already in.
  JoinReply js = join(c, static_args(t.s, "a", "s1"), 32200);
  ASSERT_TRUE(js.answered());
  EXPECT_EQ(js.result().generation_id, 2);
  EXPECT_EQ(js.result().leader, t.b);
  sync(c, t.s, 2, 32300, {}, "s1");
  sync(c, jc.result().member_id, 2, 32300);
  SyncReply sb = sync(c, t.b, 2, 32300, {{t.s, "S"}, {t.b, "B"}, {jc.result().member_id, "C"}});
  EXPECT_EQ(sb.result().assignment, "B");
  ASSERT_EQ(state_of(c), "Stable");
  // Its session runs out: it is removed, and the others rebalance, as for any member.
  c.heartbeat(kGroup, 2, t.b, std::nullopt, 40000);
  c.heartbeat(kGroup, 2, jc.result().member_id, std::nullopt, 40000);
  c.tick(32300 + kSession);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  EXPECT_EQ(c.describe(kGroup)->members, (std::vector<std::string>{t.b, jc.result().member_id}));
  EXPECT_EQ(c.heartbeat(kGroup, 2, t.s, "s1", 42400), err::kUnknownMemberId);
}

TEST(GroupCoordinatorTest, ARebalanceNobodyRejoinsWaitsForTheStaticMembers) {
  GroupCoordinator c(test_options(100));
  JoinReply js = join(c, static_args("", "s", "s1"), 0);
  run_until(c, 1000);
  const std::string s = js.result().member_id;
  sync(c, s, 1, 1000, {{s, "S"}}, "s1");
  JoinReply jd = join(c, join_args("", "d"), 2000);
  const std::string d = c.describe(kGroup)->members.at(1);
  c.leave(kGroup, ids({d}), 2100);
  EXPECT_EQ(jd.result().error, err::kUnknownMemberId);
  EXPECT_EQ(state_of(c), "PreparingRebalance");
  // s keeps its session alive through two rebalance timeouts without rejoining.
  for (int64_t at = 9000; at <= 2000 + 2 * kRebalance; at += 9000) {
    EXPECT_EQ(c.heartbeat(kGroup, 1, s, "s1", at), err::kRebalanceInProgress);
    run_until(c, at);
    auto view = c.describe(kGroup);
    EXPECT_EQ(view->state, "PreparingRebalance") << "no generation without a member that rejoined";
    EXPECT_EQ(view->generation_id, 1);
    EXPECT_EQ(view->members, std::vector<std::string>{s});
  }
  JoinReply js2 = join(c, static_args(s, "s", "s1"), 2000 + 2 * kRebalance + 1);
  ASSERT_TRUE(js2.answered());
  EXPECT_EQ(js2.result().generation_id, 2);
  EXPECT_EQ(js2.result().leader, s);
}

TEST(GroupCoordinatorTest, LeaveByInstanceIdAndPerMemberErrorsAsKafka) {
  GroupCoordinator c(test_options(100));
  JoinReply j1 = join(c, static_args("", "x", "s1"), 0);
  JoinReply j2 = join(c, static_args("", "y", "s2"), 0);
  JoinReply jb = join(c, join_args("", "b"), 0);
  run_until(c, 1000);
  const std::string s1 = j1.result().member_id, s2 = j2.result().member_id;
  const std::string b = jb.result().member_id;
  sync(c, s2, 1, 1000);
  sync(c, b, 1, 1000);
  sync(c, s1, 1, 1000, {{s1, "1"}, {s2, "2"}, {b, "B"}});
  ASSERT_EQ(state_of(c), "Stable");
  std::vector<GroupCoordinator::MemberIdentity> batch{
      {"", "s1"},     // by instance id alone (an administrator's removal): leaves
      {"", "nope"},   // an instance id nobody holds
      {"", {}},       // neither
      {b, "s2"},      // an instance id held by another member
      {s2, "wrong"},  // an instance id nobody holds, with a member id
      {"stranger", {}}};
  auto left = c.leave(kGroup, batch, 2000);
  EXPECT_EQ(left.error, err::kNone);
  EXPECT_EQ(
      left.member_errors,
      (std::vector<int16_t>{err::kNone, err::kUnknownMemberId, err::kUnknownMemberId,
                            err::kFencedInstanceId, err::kUnknownMemberId, err::kUnknownMemberId}));
  auto view = c.describe(kGroup);
  EXPECT_EQ(view->state, "PreparingRebalance");
  EXPECT_EQ(view->members, (std::vector<std::string>{s2, b}));
  EXPECT_EQ(view->leader, s2);
  // The instance id is free again: a new member with it joins as a new member.
  EXPECT_EQ(c.heartbeat(kGroup, 1, s1, "s1", 2100), err::kUnknownMemberId);
  // Both remaining members at once, one by each identity: one rebalance, to Empty.
  std::vector<GroupCoordinator::MemberIdentity> rest{{s2, "s2"}, {b, {}}};
  EXPECT_EQ(c.leave(kGroup, rest, 2200).member_errors,
            (std::vector<int16_t>{err::kNone, err::kNone}));
  view = c.describe(kGroup);
  EXPECT_EQ(view->state, "Empty");
  EXPECT_EQ(view->generation_id, 2);
  JoinReply again = join(c, static_args("", "x", "s1"), 3000);
  run_until(c, 4000);
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.result().generation_id, 3);
  EXPECT_EQ(again.result().leader, again.result().member_id);
}

// ---------------------------------------------------------------------------------------------
// Property: random clients doing random things keep the coordinator's promises.

struct Client {
  std::string name;
  std::string member_id;
  int32_t generation = -1;
  bool leader = false;
  std::vector<std::string> peers;  // the members list, when leader
  Protocols protocols;
  std::optional<std::string> instance_id;  // a static member's
  int incarnation = 0;                     // a restart makes a new process
};

struct SyncRecord {
  int32_t generation;
  std::string member;
  std::map<std::string, std::string> given;  // the leader's assignments, last one wins
  std::optional<SyncGroupResult> result;
};

RC_GTEST_PROP(GroupCoordinatorProperty, RandomClientsKeepTheInvariants, ()) {
  GroupCoordinator::Options o;
  o.initial_rebalance_delay_ms = *rc::gen::element(0, 3000);
  o.max_group_size = *rc::gen::element(3, std::numeric_limits<int32_t>::max());
  o.member_id_seed = 1;
  GroupCoordinator c(o);

  const std::vector<Protocols> choices = {{{"range", "r"}},
                                          {{"range", "r"}, {"roundrobin", "rr"}},
                                          {{"roundrobin", "rr"}, {"range", "r"}}};
  std::vector<Client> clients(4);
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i].name = "client" + std::to_string(i);
    clients[i].protocols = choices[i % choices.size()];
    if (i >= 2) clients[i].instance_id = "instance" + std::to_string(i);
  }
  // A static client that restarts loses its member id; the old id may still speak (a zombie).
  std::vector<Client> zombies;
  // Static members replaced without a rebalance hand their id on: old id -> new id.
  std::map<std::string, std::string> renamed;
  std::map<std::string, std::string> holder;  // instance id -> the last id a join gave it
  auto latest = [&](std::string id) {
    for (auto it = renamed.find(id); it != renamed.end(); it = renamed.find(id)) id = it->second;
    return id;
  };
  auto same_line = [&](std::string from, const std::string& to) {
    for (;;) {
      if (from == to) return true;
      auto it = renamed.find(from);
      if (it == renamed.end()) return false;
      from = it->second;
    }
  };

  std::vector<int> calls;  // per callback handed out: how many times it ran
  std::vector<std::string> violations;
  std::map<int32_t, std::string> leader_of;  // generation -> leader, from successful joins
  std::vector<std::shared_ptr<SyncRecord>> syncs;
  int64_t now = 0;
  int32_t last_generation = 0;
  int64_t last_call = 0;  // the time of the latest call into the coordinator
  bool saw_stable = false, saw_stable_pair = false;

  auto new_callback = [&]() {
    calls.push_back(0);
    return calls.size() - 1;
  };
  auto ran = [&](size_t id) {
    if (++calls[id] > 1) violations.push_back("callback " + std::to_string(id) + " ran twice");
  };

  auto check_after_op = [&]() {
    if (auto d = c.next_deadline(); d && *d <= last_call) {
      violations.push_back("next_deadline " + std::to_string(*d) + " not after now");
    }
    auto view = c.describe(kGroup);
    if (!view) return;
    if (view->generation_id < last_generation) violations.push_back("generation went back");
    last_generation = view->generation_id;
    if (view->state == "Stable") {
      saw_stable = true;
      if (view->members.size() >= 2) saw_stable_pair = true;
    }
    if (view->state == "CompletingRebalance" || view->state == "Stable") {
      auto it = leader_of.find(view->generation_id);
      if (it == leader_of.end() || latest(it->second) != view->leader) {
        violations.push_back("leader of generation " + std::to_string(view->generation_id) +
                             " not the one announced");
      }
    }
  };

  auto send_sync = [&](size_t who) {
    const Client& cl = clients[who];
    auto rec = std::make_shared<SyncRecord>();
    rec->generation = cl.generation;
    rec->member = cl.member_id;
    SyncGroupArgs a;
    a.group_id = kGroup;
    a.generation_id = cl.generation;
    a.member_id = cl.member_id;
    a.group_instance_id = cl.instance_id;
    if (cl.leader) {
      for (const std::string& peer : cl.peers) {
        if (*rc::gen::inRange(0, 5) == 0) continue;  // some members get nothing
        std::string given = "g" + std::to_string(cl.generation) + ":" + peer + ":" +
                            std::to_string(*rc::gen::inRange(0, 3));
        a.assignments.emplace_back(peer, given);
        rec->given[peer] = given;
      }
    }
    syncs.push_back(rec);
    const size_t id = new_callback();
    last_call = now;
    c.sync(std::move(a), now, [&, id, rec](SyncGroupResult r) {
      ran(id);
      rec->result = std::move(r);
    });
  };

  const int steps = *rc::gen::inRange(10, 150);
  for (int step = 0; step < steps; ++step) {
    now += *rc::gen::inRange(0, 1500);
    const size_t who = *rc::gen::inRange<size_t>(0, clients.size());
    Client& cl = clients[who];
    // Weighted so that groups often get as far as Stable: joins and syncs are the common steps.
    const int pick = *rc::gen::inRange(0, 15);
    int kind = pick < 3    ? 0
               : pick < 6  ? 2
               : pick < 8  ? 3
               : pick < 12 ? pick - 4
               : pick < 13 ? 7
                           : 8;
    // A member of a generation mostly heartbeats rather than rejoins, as real consumers do.
    if (kind == 0 && cl.generation >= 0 && *rc::gen::inRange(0, 4) != 0) kind = 3;
    switch (kind) {
      case 0: {  // JoinGroup
        JoinGroupArgs a =
            join_args(cl.member_id, cl.name, cl.protocols, *rc::gen::arbitrary<bool>());
        a.group_instance_id = cl.instance_id;
        a.rebalance_timeout_ms = *rc::gen::element(kSession, 20000);
        if (*rc::gen::inRange(0, 8) == 0) {
          cl.protocols = choices[*rc::gen::inRange<size_t>(0, choices.size())];
          a.protocols = cl.protocols;
        }
        const size_t id = new_callback();
        c.join(std::move(a), now, [&, id, who, incarnation = cl.incarnation](JoinGroupResult r) {
          ran(id);
          Client& me = clients[who];
          if (r.error == err::kNone) {
            if (me.instance_id) {
              auto [held, fresh] = holder.emplace(*me.instance_id, r.member_id);
              if (!fresh && held->second != r.member_id) renamed[held->second] = r.member_id;
              held->second = r.member_id;
            }
            if (r.leader.empty() || (r.leader == r.member_id) == r.members.empty()) {
              violations.push_back("members list not exactly for the leader");
            }
            auto [it, fresh] = leader_of.emplace(r.generation_id, r.leader);
            if (!fresh && latest(it->second) != latest(r.leader)) {
              violations.push_back("two leaders in generation " + std::to_string(r.generation_id));
            }
          }
          if (incarnation != me.incarnation) return;  // for a process that has since restarted
          if (r.error == err::kMemberIdRequired) {
            me.member_id = r.member_id;
          } else if (r.error == err::kNone) {
            me.member_id = r.member_id;
            me.generation = r.generation_id;
            me.leader = r.leader == r.member_id;
            me.peers.clear();
            for (const auto& m : r.members) me.peers.push_back(m.member_id);
          } else if (r.error == err::kUnknownMemberId) {
            me.member_id.clear();
            me.generation = -1;
          }
        });
        break;
      }
      case 2:  // SyncGroup
        send_sync(who);
        break;
      case 7:  // every member that knows a generation syncs, followers first
        for (size_t i = 0; i < clients.size(); ++i) {
          if (!clients[i].leader && clients[i].generation >= 0) send_sync(i);
        }
        for (size_t i = 0; i < clients.size(); ++i) {
          if (clients[i].leader) send_sync(i);
        }
        break;
      case 3: {  // Heartbeat, now and then from a zombie. A live client may be fenced too: by
                 // its own later JoinGroup without an id, sent while an earlier one waited.
        const bool zombie = !zombies.empty() && *rc::gen::inRange(0, 4) == 0;
        Client& from = zombie ? zombies[*rc::gen::inRange<size_t>(0, zombies.size())] : cl;
        const std::string sent = from.member_id;  // a callback the call runs may change it
        int16_t e = c.heartbeat(kGroup, from.generation, sent, from.instance_id, now);
        if (e != err::kNone && e != err::kRebalanceInProgress && e != err::kIllegalGeneration &&
            e != err::kUnknownMemberId && e != err::kFencedInstanceId) {
          violations.push_back("unexpected heartbeat error " + std::to_string(e));
        }
        if ((e == err::kUnknownMemberId || e == err::kFencedInstanceId) && from.member_id == sent) {
          from.member_id.clear();
        }
        break;
      }
      case 4: {  // LeaveGroup; a static member also by its instance id alone
        GroupCoordinator::MemberIdentity leaving{cl.member_id, cl.instance_id};
        if (cl.instance_id && *rc::gen::inRange(0, 3) == 0) leaving.member_id.clear();
        auto r = c.leave(kGroup, std::vector<GroupCoordinator::MemberIdentity>{leaving}, now);
        if (r.member_errors.size() != 1) violations.push_back("one error per leaving member");
        cl.member_id.clear();
        cl.generation = -1;
        cl.leader = false;
        break;
      }
      case 5:
        c.validate_commit(kGroup, cl.generation, cl.member_id, cl.instance_id, now);
        break;
      case 8:  // a static client restarts: a new process, without the member id
        if (!cl.instance_id || cl.member_id.empty()) break;
        zombies.push_back(cl);
        ++cl.incarnation;
        cl.member_id.clear();
        cl.generation = -1;
        cl.leader = false;
        break;
      case 6:
        now += *rc::gen::inRange(0, 25000);
        c.tick(now);
        break;
    }
    if (kind != 7 && kind != 8) last_call = now;  // 7 may call nothing (send_sync keeps the time)
    check_after_op();
    if (!violations.empty()) RC_FAIL(violations.front());
  }

  // Everyone goes quiet: sessions and rebalances run out, and every callback gets its answer.
  for (int i = 0; i < 20; ++i) {
    now += 100000;
    c.tick(now);
    last_call = now;
    check_after_op();
  }
  if (!violations.empty()) RC_FAIL(violations.front());
  for (size_t id = 0; id < calls.size(); ++id) RC_ASSERT(calls[id] == 1);
  if (auto view = c.describe(kGroup)) {
    RC_ASSERT(view->state == "Empty");
    RC_ASSERT(view->members.empty());
  }
  RC_ASSERT(!c.next_deadline().has_value());

  // Every member that got an assignment got the one its generation's leader gave it.
  std::map<int32_t, const SyncRecord*> leaders_sync;
  for (const auto& rec : syncs) {
    if (!rec->result || rec->result->error != err::kNone) continue;
    auto leader = leader_of.find(rec->generation);
    RC_ASSERT(leader != leader_of.end());
    if (rec->member == leader->second && !leaders_sync.contains(rec->generation)) {
      leaders_sync[rec->generation] = rec.get();
    }
  }
  for (const auto& rec : syncs) {
    if (!rec->result || rec->result->error != err::kNone) continue;
    auto from = leaders_sync.find(rec->generation);
    RC_ASSERT(from != leaders_sync.end());
    // A static member replaced without a rebalance has its predecessor's assignment.
    auto given = std::find_if(from->second->given.begin(), from->second->given.end(),
                              [&](const auto& g) { return same_line(g.first, rec->member); });
    const std::string expected = given == from->second->given.end() ? "" : given->second;
    RC_ASSERT(rec->result->assignment == expected);
  }
  const bool follower_assigned = std::any_of(syncs.begin(), syncs.end(), [&](const auto& rec) {
    return rec->result && rec->result->error == err::kNone && !rec->result->assignment.empty() &&
           leader_of[rec->generation] != rec->member;
  });
  RC_CLASSIFY(follower_assigned, "a follower got its assignment");
  RC_CLASSIFY(!renamed.empty(), "a static member replaced");
  RC_CLASSIFY(saw_stable, "stable");
  RC_CLASSIFY(saw_stable_pair, "stable with two or more");
  RC_CLASSIFY(last_generation >= 3, "three or more generations");
}

}  // namespace
}  // namespace kappa
