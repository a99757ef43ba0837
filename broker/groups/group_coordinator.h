// GroupCoordinator: the consumer-group coordinator of the broker, Kafka's classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup and OffsetCommit's membership check) as Apache
// Kafka's GroupCoordinator implements it. A group moves through Empty -> PreparingRebalance ->
// CompletingRebalance -> Stable (and back to PreparingRebalance or Empty). An Empty group can be
// deleted (DeleteGroups; Kafka's Dead state is then simply its absence). DescribeGroups,
// ListGroups and OffsetDelete's checks read the groups as Kafka's coordinator summarizes them;
// the server adds the groups that exist only as committed offsets, which the coordinator does
// not keep.
//
// It is pure logic: no sockets, no threads, no clock. Every call takes the current time in
// milliseconds (monotonic, never decreasing), and the server arms a timer for next_deadline() and
// calls tick() when it fires. Before handling a request for a group, the coordinator first
// carries out whatever of that group fell due by `now_ms` (expired sessions, a finished rebalance
// delay), so answers do not depend on how promptly tick() is called.
//
// REQUIRES: external synchronization; the server calls it from one strand. Callbacks (`done`) are
// invoked exactly once each, possibly before the call that took them returns, always after the
// coordinator's state is fully updated (they are queued during the call and run at its end).
// A callback must not throw and must not call back into the coordinator (the server posts).
//
// Choices where Kafka leaves room (see group_coordinator.cc for the details):
//  - A member that sends JoinGroup (SyncGroup) while its previous one still waits: Kafka drops the
//    earlier callback silently; here it is answered at once with REBALANCE_IN_PROGRESS, a
//    retriable error, and the new request waits in its place.
//  - The protocol vote: most votes wins, as Kafka; a tie goes to the tied protocol the leader
//    prefers most (Kafka's choice there is hash-map order).
//  - Members are kept in join order; a departing leader is replaced by the earliest-joined member.
//  - As Kafka (not a simplification of it): the leader's JoinGroup in Stable always rebalances (a
//    follower with unchanged metadata gets the current generation back); members that have not
//    sent SyncGroup one rebalance timeout after the rebalance completed are removed (Kafka 3.2+);
//    a new member's first JoinGroup expires after new_member_join_timeout_ms.
//  - Static membership (group.instance.id, KIP-345), as Kafka's classic groups: a member that
//    joins with an instance id and no member id is not asked for one (no MEMBER_ID_REQUIRED); if
//    the instance id is held, the new member id takes the holder's place with its assignment
//    (in Stable without a rebalance unless the group's protocol would change), and the old id
//    is fenced (FENCED_INSTANCE_ID) wherever it comes with the instance id. A static member
//    that does not rejoin is kept through a rebalance; only its session timeout or a LeaveGroup
//    (by member id or by instance id) removes it.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kappa {

struct JoinGroupArgs {
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;  // v0: equal to the session timeout (the server fills it)
  std::string member_id;             // "" for a member that has none yet
  std::optional<std::string> group_instance_id;
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // (name, metadata), preferred first
  // JoinGroup v4+: an unknown "" member first gets MEMBER_ID_REQUIRED with its new id.
  bool require_known_member_id = false;
  std::string client_id;
  std::string client_host;
};

struct JoinGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // for the chosen protocol
};

struct JoinGroupResult {
  int16_t error = 0;
  int32_t generation_id = -1;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<JoinGroupMember> members;  // filled only for the leader
};

struct SyncGroupArgs {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::optional<std::string> protocol_type, protocol_name;       // v5+: checked when present
  std::vector<std::pair<std::string, std::string>> assignments;  // (member_id, assignment), leader
};

struct SyncGroupResult {
  int16_t error = 0;
  std::string protocol_type;
  std::string protocol_name;
  std::string assignment;
};

class GroupCoordinator {
 public:
  struct Options {
    int32_t min_session_timeout_ms = 6000;     // group.min.session.timeout.ms
    int32_t max_session_timeout_ms = 1800000;  // group.max.session.timeout.ms
    int32_t initial_rebalance_delay_ms = 0;    // group.initial.rebalance.delay.ms
    int32_t max_group_size = std::numeric_limits<int32_t>::max();  // group.max.size
    // How long a new member may wait in its first JoinGroup before it is dropped (Kafka's
    // NewMemberJoinTimeoutMs): it has no session yet that heartbeats could keep alive.
    int32_t new_member_join_timeout_ms = 5 * 60 * 1000;
    // Seeds the generator of member ids; unset: seeded from std::random_device. Tests fix it.
    std::optional<uint64_t> member_id_seed;
  };

  using JoinCallback = std::function<void(JoinGroupResult)>;
  using SyncCallback = std::function<void(SyncGroupResult)>;

  explicit GroupCoordinator(Options options);

  // JoinGroup. Answers at once on errors, MEMBER_ID_REQUIRED and a rejoin that changes nothing;
  // otherwise `done` waits until the rebalance completes.
  void join(JoinGroupArgs args, int64_t now_ms, JoinCallback done);
  // SyncGroup. A follower in CompletingRebalance waits for the leader's assignment.
  void sync(SyncGroupArgs args, int64_t now_ms, SyncCallback done);
  // Heartbeat. `group_instance_id` is the request's (v3+), nullopt when it has none.
  int16_t heartbeat(std::string_view group_id, int32_t generation_id, std::string_view member_id,
                    std::optional<std::string_view> group_instance_id, int64_t now_ms);

  // LeaveGroup v0-v2 (one member, by member id) and v3+ (several, each by member id and
  // optionally group.instance.id): one error per member, plus the top-level error. With a
  // top-level error (INVALID_GROUP_ID) member_errors is empty, as in Kafka; for v0-v2 the server
  // answers the top-level error if set, else member_errors[0].
  struct MemberIdentity {
    std::string member_id;
    std::optional<std::string> group_instance_id;
  };
  struct LeaveResult {
    int16_t error = 0;
    std::vector<int16_t> member_errors;
  };
  LeaveResult leave(std::string_view group_id, std::span<const MemberIdentity> members,
                    int64_t now_ms);

  // OffsetCommit's check: generation -1 with member "" is a simple (non-member) commit, allowed
  // when the group has no members; else the member must be known (UNKNOWN_MEMBER_ID), the
  // generation current (ILLEGAL_GENERATION), and the group not CompletingRebalance
  // (REBALANCE_IN_PROGRESS). Also refreshes the member's session like a heartbeat. As Kafka, a
  // simple commit to an unknown group creates it (Empty), and "" is an acceptable group id here.
  int16_t validate_commit(std::string_view group_id, int32_t generation_id,
                          std::string_view member_id,
                          std::optional<std::string_view> group_instance_id, int64_t now_ms);

  // Expires sessions and completes rebalances whose time has come; invokes pending callbacks.
  void tick(int64_t now_ms);
  // The earliest time tick() has something to do, if any (the server arms a timer for it).
  std::optional<int64_t> next_deadline() const;

  // DescribeGroups: a group as Kafka's GroupMetadata.summary gives it, after carrying out what
  // fell due by now_ms; nullopt for a group the coordinator does not have. Members are in join
  // order; their metadata (of the chosen protocol) and assignment, and the protocol data, are
  // there only when the group is Stable.
  struct MemberSummary {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;
    std::string assignment;
  };
  struct GroupSummary {
    std::string state;  // Empty, PreparingRebalance, CompletingRebalance, Stable
    std::string protocol_type;
    std::string protocol_data;
    std::vector<MemberSummary> members;
  };
  std::optional<GroupSummary> summarize(std::string_view group_id, int64_t now_ms);

  // ListGroups: every group (id, protocol type, state), sorted by id.
  struct GroupListing {
    std::string group_id;
    std::string protocol_type;
    std::string state;
  };
  std::vector<GroupListing> list(int64_t now_ms);

  // DeleteGroups' check: kNone for an Empty group, NON_EMPTY_GROUP for one with members,
  // GROUP_ID_NOT_FOUND for one the coordinator does not have. remove() then forgets it.
  int16_t check_delete(std::string_view group_id, int64_t now_ms);
  void remove(std::string_view group_id);

  // OffsetDelete's check, as Kafka's: kNone for an Empty group, and for a group of the consumer
  // protocol with members, in which case `subscribed[i]` says whether topics[i] is one its
  // members subscribe to (its offsets must stay: GROUP_SUBSCRIBED_TO_TOPIC). A subscription
  // that cannot be read counts as subscribed to every topic. NON_EMPTY_GROUP for another
  // protocol's group with members; GROUP_ID_NOT_FOUND for a group it does not have.
  int16_t check_offset_delete(std::string_view group_id, std::span<const std::string> topics,
                              int64_t now_ms, std::vector<bool>& subscribed);
  // Whether the group is Empty (so that the server removes it once its last offset is gone, as
  // Kafka's coordinator does).
  bool is_empty(std::string_view group_id) const;

  // Introspection for tests and logs. Members are in join order.
  struct GroupView {
    std::string state;
    int32_t generation_id;
    std::string protocol_name;
    std::string leader;
    std::vector<std::string> members;
  };
  std::optional<GroupView> describe(std::string_view group_id) const;

 private:
  enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };

  struct Member {
    std::string id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::vector<std::pair<std::string, std::string>> protocols;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    uint64_t join_order = 0;          // smaller joined earlier
    int64_t session_deadline_ms = 0;  // see Group::member_due
    bool is_new = true;               // has not yet been through a completed rebalance
    JoinCallback awaiting_join;       // set while its JoinGroup waits
    SyncCallback awaiting_sync;       // set while its SyncGroup waits
    std::string assignment;           // from the leader, for the current generation
  };

  struct Group {
    std::string id;
    GroupState state = GroupState::kEmpty;
    int32_t generation_id = 0;
    std::string protocol_type;  // of the members; set when the first member joins an empty group
    std::string protocol_name;  // chosen at the last completed rebalance; "" when Empty
    std::string leader;         // "" when there are no members
    std::map<std::string, Member, std::less<>> members;
    // The static members (KIP-345): group.instance.id -> the member id that holds it now.
    std::map<std::string, std::string, std::less<>> static_members;
    // Members that got MEMBER_ID_REQUIRED and have not joined with their id yet: id -> expiry.
    std::map<std::string, int64_t, std::less<>> pending_members;

    // PreparingRebalance: when the rebalance completes regardless of who has rejoined.
    int64_t join_deadline_ms = 0;
    // The rebalance started from Empty waits initial_rebalance_delay_ms, extended while new
    // members keep arriving in generation 0, up to the rebalance timeout.
    bool initial_delay = false;
    int32_t initial_delay_remaining_ms = 0;
    bool new_member_added = false;

    // CompletingRebalance/Stable: members that have not sent SyncGroup since the rebalance
    // completed are removed at sync_deadline_ms (Kafka 3.2+'s pending-sync expiration).
    std::set<std::string, std::less<>> pending_sync;
    int64_t sync_deadline_ms = 0;

    std::optional<int64_t> indexed_deadline;  // this group's entry in timers_
  };

  // Group events that fall due by time: kinds in the order they are handled at equal times.
  enum class EventKind { kPendingMemberExpiry, kSessionExpiry, kJoinDeadline, kSyncDeadline };
  struct Event {
    int64_t at_ms;
    EventKind kind;
    std::string member_id;  // for the expiries
  };

  Group* find_group(std::string_view group_id);
  const Group* find_group(std::string_view group_id) const;
  Group& create_group(std::string_view group_id);

  std::optional<Event> earliest_event(const Group& g) const;
  std::optional<int64_t> member_due(const Member& m) const;
  // Carries out every event of `g` due by now_ms, then re-files the group in timers_.
  void advance(Group& g, int64_t now_ms);
  void reindex(Group& g);

  void join_new_member(Group& g, JoinGroupArgs& args, int64_t now_ms, JoinCallback& done);
  void join_known_member(Group& g, JoinGroupArgs& args, int64_t now_ms, JoinCallback& done);
  // A static member that joins with no member id while its instance id is held: the new id takes
  // the holder's place (Kafka's updateStaticMemberThenRebalanceOrCompleteJoin).
  void replace_static_member(Group& g, JoinGroupArgs& args, std::string new_member_id,
                             int64_t now_ms, JoinCallback done);
  // Kafka's ClassicGroup.validateMember: with an instance id, it must be held by member_id
  // (UNKNOWN_MEMBER_ID if nobody holds it, FENCED_INSTANCE_ID if another id does); and member_id
  // must be a member (UNKNOWN_MEMBER_ID).
  static int16_t validate_member(const Group& g, std::string_view member_id,
                                 std::optional<std::string_view> group_instance_id);
  bool accept_joining_member(const Group& g, std::string_view member_id) const;
  bool supports_protocols(const Group& g, std::string_view protocol_type,
                          const std::vector<std::pair<std::string, std::string>>& protocols) const;
  void add_member_and_rebalance(Group& g, JoinGroupArgs& args, std::string member_id,
                                int64_t now_ms, JoinCallback done);
  void update_member_and_rebalance(Group& g, Member& m, JoinGroupArgs& args, int64_t now_ms,
                                   JoinCallback done);
  JoinGroupResult current_generation_answer(const Group& g, const Member& m) const;

  void maybe_prepare_rebalance(Group& g, int64_t now_ms);
  void prepare_rebalance(Group& g, int64_t now_ms);
  void try_complete_join(Group& g, int64_t now_ms);
  void on_join_deadline(Group& g, int64_t now_ms);
  void complete_join(Group& g, int64_t now_ms);
  std::string select_protocol(const Group& g) const;
  int32_t rebalance_timeout_ms(const Group& g) const;

  // Removes a member, answering its waiting callbacks with UNKNOWN_MEMBER_ID, and re-elects the
  // leader if needed; no state transition.
  void remove_member(Group& g, std::string_view member_id);
  // remove_member, then what the group's state calls for (a rebalance, or its completion).
  void remove_member_and_update_group(Group& g, std::string_view member_id, int64_t now_ms);
  void remove_pending_member_and_update_group(Group& g, std::string_view member_id, int64_t now_ms);

  void answer_join(Member& m, JoinGroupResult result);
  void answer_sync(Member& m, SyncGroupResult result);
  void post(std::function<void()> call);
  void flush();

  // "<prefix>-<random UUID>": the prefix is the instance id of a static member, else the client id.
  std::string generate_member_id(const Group& g, std::string_view prefix);
  static std::vector<Member*> in_join_order(Group& g);
  static std::string_view state_name(GroupState s);

  Options options_;
  std::mt19937_64 member_id_rng_;
  uint64_t next_join_order_ = 0;
  std::map<std::string, Group, std::less<>> groups_;
  std::set<std::pair<int64_t, std::string>, std::less<>> timers_;  // (deadline, group id)
  std::vector<std::function<void()>> outbox_;  // callbacks to run at the end of the call
};

}  // namespace kappa
