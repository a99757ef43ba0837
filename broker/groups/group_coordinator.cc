#include "broker/groups/group_coordinator.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "broker/protocol/error_codes.h"

namespace kappa {

namespace err = kafka_error;

namespace {

JoinGroupResult join_error(int16_t error, std::string member_id) {
  JoinGroupResult r;
  r.error = error;
  r.member_id = std::move(member_id);
  return r;
}

SyncGroupResult sync_error(int16_t error) {
  SyncGroupResult r;
  r.error = error;
  return r;
}

bool has_protocol(const std::vector<std::pair<std::string, std::string>>& protocols,
                  std::string_view name) {
  return std::any_of(protocols.begin(), protocols.end(),
                     [&](const auto& p) { return p.first == name; });
}

const std::string* metadata_for(const std::vector<std::pair<std::string, std::string>>& protocols,
                                std::string_view name) {
  for (const auto& p : protocols) {
    if (p.first == name) return &p.second;
  }
  return nullptr;
}

}  // namespace

GroupCoordinator::GroupCoordinator(Options options)
    : options_(options),
      member_id_rng_(options.member_id_seed
                         ? *options.member_id_seed
                         : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

// ---------------------------------------------------------------------------------------------
// Requests

void GroupCoordinator::join(JoinGroupArgs args, int64_t now_ms, JoinCallback done) {
  auto fail = [&](int16_t error, std::string member_id) {
    post([done = std::move(done), r = join_error(error, std::move(member_id))]() mutable {
      done(std::move(r));
    });
  };
  if (args.group_id.empty()) {
    fail(err::kInvalidGroupId, args.member_id);
  } else if (args.session_timeout_ms < options_.min_session_timeout_ms ||
             args.session_timeout_ms > options_.max_session_timeout_ms) {
    fail(err::kInvalidSessionTimeout, args.member_id);
  } else {
    Group* g = find_group(args.group_id);
    if (g == nullptr && !args.member_id.empty()) {
      // A member id names a member of an existing group; the group is created only for "".
      fail(err::kUnknownMemberId, args.member_id);
    } else {
      if (g == nullptr) g = &create_group(args.group_id);
      advance(*g, now_ms);
      if (!accept_joining_member(*g, args.member_id)) {
        remove_member(*g, args.member_id);
        fail(err::kGroupMaxSizeReached, "");
      } else if (args.member_id.empty()) {
        join_new_member(*g, args, now_ms, done);
      } else {
        join_known_member(*g, args, now_ms, done);
      }
      try_complete_join(*g, now_ms);
      advance(*g, now_ms);
    }
  }
  flush();
}

void GroupCoordinator::join_new_member(Group& g, JoinGroupArgs& args, int64_t now_ms,
                                       JoinCallback& done) {
  if (!supports_protocols(g, args.protocol_type, args.protocols)) {
    post([done = std::move(done), r = join_error(err::kInconsistentGroupProtocol, "")]() mutable {
      done(std::move(r));
    });
    return;
  }
  if (args.group_instance_id) {
    // A static member is not asked to come back with its id: its instance id already names it.
    std::string member_id = generate_member_id(g, *args.group_instance_id);
    if (g.static_members.contains(*args.group_instance_id)) {
      replace_static_member(g, args, std::move(member_id), now_ms, std::move(done));
    } else {
      add_member_and_rebalance(g, args, std::move(member_id), now_ms, std::move(done));
    }
    return;
  }
  std::string member_id = generate_member_id(g, args.client_id);
  if (args.require_known_member_id) {
    // The member is told its id and must come back with it; until then it is pending, and a
    // rebalance waits for it (or for its session timeout).
    g.pending_members[member_id] = now_ms + args.session_timeout_ms;
    post([done = std::move(done),
          r = join_error(err::kMemberIdRequired, std::move(member_id))]() mutable {
      done(std::move(r));
    });
    return;
  }
  add_member_and_rebalance(g, args, std::move(member_id), now_ms, std::move(done));
}

void GroupCoordinator::join_known_member(Group& g, JoinGroupArgs& args, int64_t now_ms,
                                         JoinCallback& done) {
  auto answer_now = [&](JoinGroupResult r) {
    post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  if (!supports_protocols(g, args.protocol_type, args.protocols)) {
    answer_now(join_error(err::kInconsistentGroupProtocol, args.member_id));
    return;
  }
  if (g.pending_members.contains(args.member_id)) {
    if (args.group_instance_id) {
      // Only dynamic members are ever pending; Kafka fails such a join with an internal error.
      answer_now(join_error(err::kUnknownServerError, args.member_id));
      return;
    }
    std::string member_id = args.member_id;
    add_member_and_rebalance(g, args, std::move(member_id), now_ms, std::move(done));
    return;
  }
  if (int16_t error = validate_member(g, args.member_id, args.group_instance_id);
      error != err::kNone) {
    answer_now(join_error(error, args.member_id));
    return;
  }
  Member& m = g.members.find(args.member_id)->second;
  const bool same_metadata = m.protocols == args.protocols;
  switch (g.state) {
    case GroupState::kPreparingRebalance:
      update_member_and_rebalance(g, m, args, now_ms, std::move(done));
      return;
    case GroupState::kCompletingRebalance:
      // The same metadata again most likely means the member missed the JoinGroup answer:
      // repeat it (with the member list for the leader) rather than start over.
      if (same_metadata) {
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        answer_now(current_generation_answer(g, m));
      } else {
        update_member_and_rebalance(g, m, args, now_ms, std::move(done));
      }
      return;
    case GroupState::kStable:
      // The leader's JoinGroup always rebalances: that is how a consumer leader reacts to
      // changes the member metadata does not show (new partitions of a subscribed topic).
      if (g.leader == m.id || !same_metadata) {
        update_member_and_rebalance(g, m, args, now_ms, std::move(done));
      } else {
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        answer_now(current_generation_answer(g, m));
      }
      return;
    case GroupState::kEmpty:
      // An Empty group has no members, so this cannot happen; answered as Kafka does.
      answer_now(join_error(err::kUnknownMemberId, args.member_id));
      return;
  }
}

void GroupCoordinator::sync(SyncGroupArgs args, int64_t now_ms, SyncCallback done) {
  auto answer_now = [&](SyncGroupResult r) {
    post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  if (args.group_id.empty()) {
    answer_now(sync_error(err::kInvalidGroupId));
    flush();
    return;
  }
  Group* g = find_group(args.group_id);
  if (g == nullptr) {
    answer_now(sync_error(err::kUnknownMemberId));
    flush();
    return;
  }
  advance(*g, now_ms);
  if (int16_t error = validate_member(*g, args.member_id, args.group_instance_id);
      error != err::kNone) {
    answer_now(sync_error(error));
  } else if (args.generation_id != g->generation_id) {
    answer_now(sync_error(err::kIllegalGeneration));
  } else if ((args.protocol_type && *args.protocol_type != g->protocol_type) ||
             (args.protocol_name && *args.protocol_name != g->protocol_name)) {
    answer_now(sync_error(err::kInconsistentGroupProtocol));
  } else {
    Member& m = g->members.find(args.member_id)->second;
    switch (g->state) {
      case GroupState::kEmpty:
        answer_now(sync_error(err::kUnknownMemberId));
        break;
      case GroupState::kPreparingRebalance:
        answer_now(sync_error(err::kRebalanceInProgress));
        break;
      case GroupState::kCompletingRebalance:
        if (m.awaiting_sync) answer_sync(m, sync_error(err::kRebalanceInProgress));
        m.awaiting_sync = std::move(done);
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        g->pending_sync.erase(m.id);
        if (g->leader == m.id) {
          // Members the leader left out get an empty assignment; ids that are not members are
          // ignored; a repeated id takes its last assignment.
          for (auto& [id, member] : g->members) member.assignment.clear();
          for (auto& [id, assignment] : args.assignments) {
            auto target = g->members.find(id);
            if (target != g->members.end()) target->second.assignment = std::move(assignment);
          }
          g->state = GroupState::kStable;
          for (Member* each : in_join_order(*g)) {
            if (!each->awaiting_sync) continue;
            answer_sync(*each, SyncGroupResult{err::kNone, g->protocol_type, g->protocol_name,
                                               each->assignment});
            each->session_deadline_ms = now_ms + each->session_timeout_ms;
          }
        }
        break;
      case GroupState::kStable:
        g->pending_sync.erase(m.id);
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        answer_now(SyncGroupResult{err::kNone, g->protocol_type, g->protocol_name, m.assignment});
        break;
    }
  }
  advance(*g, now_ms);
  flush();
}

int16_t GroupCoordinator::heartbeat(std::string_view group_id, int32_t generation_id,
                                    std::string_view member_id,
                                    std::optional<std::string_view> group_instance_id,
                                    int64_t now_ms) {
  if (group_id.empty()) return err::kInvalidGroupId;
  Group* g = find_group(group_id);
  if (g == nullptr) return err::kUnknownMemberId;
  advance(*g, now_ms);
  int16_t error = validate_member(*g, member_id, group_instance_id);
  if (error == err::kNone && generation_id != g->generation_id) error = err::kIllegalGeneration;
  if (error == err::kNone) {
    Member& m = g->members.find(member_id)->second;
    switch (g->state) {
      case GroupState::kEmpty:
        error = err::kUnknownMemberId;
        break;
      case GroupState::kPreparingRebalance:
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        error = err::kRebalanceInProgress;
        break;
      case GroupState::kCompletingRebalance:
      case GroupState::kStable:
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
        break;
    }
  }
  advance(*g, now_ms);
  flush();
  return error;
}

GroupCoordinator::LeaveResult GroupCoordinator::leave(std::string_view group_id,
                                                      std::span<const MemberIdentity> members,
                                                      int64_t now_ms) {
  LeaveResult result;
  if (group_id.empty()) {
    result.error = err::kInvalidGroupId;
    return result;
  }
  Group* g = find_group(group_id);
  if (g == nullptr) {
    result.member_errors.assign(members.size(), err::kUnknownMemberId);
    return result;
  }
  advance(*g, now_ms);
  // As Kafka: every member named leaves first, then the group reacts once to all departures.
  bool any_left = false;
  for (const MemberIdentity& who : members) {
    int16_t error = err::kNone;
    if (who.member_id.empty()) {
      // No member id: an administrator's removal of a static member by its instance id.
      auto held = who.group_instance_id ? g->static_members.find(*who.group_instance_id)
                                        : g->static_members.end();
      if (held == g->static_members.end()) {
        error = err::kUnknownMemberId;
      } else {
        const std::string member_id = held->second;
        remove_member(*g, member_id);
      }
    } else if (g->pending_members.contains(who.member_id)) {
      remove_member(*g, who.member_id);
    } else {
      error = validate_member(*g, who.member_id, who.group_instance_id);
      if (error == err::kNone) remove_member(*g, who.member_id);
    }
    result.member_errors.push_back(error);
    any_left = any_left || error == err::kNone;
  }
  if (any_left) {
    switch (g->state) {
      case GroupState::kEmpty:
        break;
      case GroupState::kStable:
      case GroupState::kCompletingRebalance:
        prepare_rebalance(*g, now_ms);
        break;
      case GroupState::kPreparingRebalance:
        try_complete_join(*g, now_ms);
        break;
    }
  }
  advance(*g, now_ms);
  flush();
  return result;
}

int16_t GroupCoordinator::validate_commit(std::string_view group_id, int32_t generation_id,
                                          std::string_view member_id,
                                          std::optional<std::string_view> group_instance_id,
                                          int64_t now_ms) {
  const bool simple_commit = generation_id < 0 && member_id.empty() && !group_instance_id;
  Group* g = find_group(group_id);
  if (g == nullptr) {
    // A group that does not exist: fine for a group that only stores offsets (Kafka creates
    // it); a member of some generation comes from a group this coordinator no longer has.
    if (generation_id >= 0) return err::kIllegalGeneration;
    if (!simple_commit) return err::kUnknownMemberId;
    create_group(group_id);
    return err::kNone;
  }
  advance(*g, now_ms);
  int16_t error = err::kNone;
  if (simple_commit) {
    if (g->state != GroupState::kEmpty) error = err::kUnknownMemberId;
  } else {
    error = validate_member(*g, member_id, group_instance_id);
    if (error == err::kNone && generation_id != g->generation_id) {
      error = err::kIllegalGeneration;
    } else if (error == err::kNone && g->state == GroupState::kCompletingRebalance) {
      // The member has its new generation but not its assignment yet.
      error = err::kRebalanceInProgress;
    } else if (error == err::kNone) {
      // Stable, or PreparingRebalance: Kafka accepts the commit of the current generation while
      // the rebalance gathers members, and lets the heartbeat tell the member to rejoin.
      Member& m = g->members.find(member_id)->second;
      m.session_deadline_ms = now_ms + m.session_timeout_ms;
    }
  }
  advance(*g, now_ms);
  flush();
  return error;
}

void GroupCoordinator::tick(int64_t now_ms) {
  while (!timers_.empty() && timers_.begin()->first <= now_ms) {
    std::string group_id = timers_.begin()->second;
    Group* g = find_group(group_id);
    assert(g != nullptr);
    advance(*g, now_ms);  // leaves the group's next deadline after now_ms
  }
  flush();
}

std::optional<int64_t> GroupCoordinator::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

namespace {

// The topics of a ConsumerProtocolSubscription (Kafka's consumer protocol metadata): version
// int16, then the topics as an array of strings, in every version; nullopt if it does not parse.
std::optional<std::set<std::string, std::less<>>> subscription_topics(std::string_view metadata) {
  size_t at = 0;
  auto take = [&](size_t n) -> std::optional<std::string_view> {
    if (metadata.size() - at < n) return std::nullopt;
    std::string_view v = metadata.substr(at, n);
    at += n;
    return v;
  };
  auto be = [](std::string_view b) {
    uint32_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  };
  auto version = take(2);
  if (!version || static_cast<int16_t>(be(*version)) < 0) return std::nullopt;
  auto count = take(4);
  if (!count) return std::nullopt;
  const auto n = static_cast<int32_t>(be(*count));
  if (n < 0 || static_cast<size_t>(n) > metadata.size()) return std::nullopt;
  std::set<std::string, std::less<>> topics;
  for (int32_t i = 0; i < n; ++i) {
    auto length = take(2);
    if (!length) return std::nullopt;
    const auto len = static_cast<int16_t>(be(*length));
    if (len < 0) return std::nullopt;
    auto name = take(static_cast<size_t>(len));
    if (!name) return std::nullopt;
    topics.emplace(*name);
  }
  return topics;
}

}  // namespace

std::optional<GroupCoordinator::GroupSummary> GroupCoordinator::summarize(std::string_view group_id,
                                                                          int64_t now_ms) {
  Group* g = find_group(group_id);
  if (g == nullptr) return std::nullopt;
  advance(*g, now_ms);
  flush();
  GroupSummary out;
  out.state = std::string(state_name(g->state));
  out.protocol_type = g->protocol_type;
  const bool stable = g->state == GroupState::kStable;
  if (stable) out.protocol_data = g->protocol_name;
  for (Member* m : in_join_order(*g)) {
    MemberSummary& ms = out.members.emplace_back();
    ms.member_id = m->id;
    ms.group_instance_id = m->group_instance_id;
    ms.client_id = m->client_id;
    ms.client_host = m->client_host;
    if (!stable) continue;
    if (const std::string* metadata = metadata_for(m->protocols, g->protocol_name)) {
      ms.metadata = *metadata;
    }
    ms.assignment = m->assignment;
  }
  return out;
}

std::vector<GroupCoordinator::GroupListing> GroupCoordinator::list(int64_t now_ms) {
  std::vector<GroupListing> out;
  for (auto& [id, g] : groups_) {
    advance(g, now_ms);
    out.push_back({id, g.protocol_type, std::string(state_name(g.state))});
  }
  flush();
  return out;
}

int16_t GroupCoordinator::check_delete(std::string_view group_id, int64_t now_ms) {
  Group* g = find_group(group_id);
  if (g == nullptr) return err::kGroupIdNotFound;
  advance(*g, now_ms);
  flush();
  return g->state == GroupState::kEmpty ? err::kNone : err::kNonEmptyGroup;
}

void GroupCoordinator::remove(std::string_view group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  Group& g = it->second;
  // An Empty group has no members, but may have pending ones (MEMBER_ID_REQUIRED answered): their
  // JoinGroup with the id will find no group and start a new one.
  if (g.indexed_deadline) timers_.erase({*g.indexed_deadline, g.id});
  groups_.erase(it);
}

int16_t GroupCoordinator::check_offset_delete(std::string_view group_id,
                                              std::span<const std::string> topics, int64_t now_ms,
                                              std::vector<bool>& subscribed) {
  subscribed.assign(topics.size(), false);
  Group* g = find_group(group_id);
  if (g == nullptr) return err::kGroupIdNotFound;
  advance(*g, now_ms);
  flush();
  if (g->state == GroupState::kEmpty) return err::kNone;
  if (g->protocol_type != "consumer") return err::kNonEmptyGroup;
  // Kafka reads the subscriptions of the protocol chosen at the last completed rebalance.
  std::optional<std::set<std::string, std::less<>>> all;
  if (!g->protocol_name.empty()) {
    all.emplace();
    for (const auto& [id, m] : g->members) {
      std::optional<std::set<std::string, std::less<>>> mine;
      if (const std::string* metadata = metadata_for(m.protocols, g->protocol_name)) {
        mine = subscription_topics(*metadata);
      }
      if (!mine) {
        all.reset();
        break;
      }
      all->insert(mine->begin(), mine->end());
    }
  }
  for (size_t i = 0; i < topics.size(); ++i) subscribed[i] = !all || all->contains(topics[i]);
  return err::kNone;
}

bool GroupCoordinator::is_empty(std::string_view group_id) const {
  const Group* g = find_group(group_id);
  return g != nullptr && g->state == GroupState::kEmpty;
}

std::optional<GroupCoordinator::GroupView> GroupCoordinator::describe(
    std::string_view group_id) const {
  const Group* g = find_group(group_id);
  if (g == nullptr) return std::nullopt;
  GroupView view{
      std::string(state_name(g->state)), g->generation_id, g->protocol_name, g->leader, {}};
  std::vector<const Member*> order;
  for (const auto& [id, m] : g->members) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](const Member* a, const Member* b) { return a->join_order < b->join_order; });
  for (const Member* m : order) view.members.push_back(m->id);
  return view;
}

// ---------------------------------------------------------------------------------------------
// Membership

bool GroupCoordinator::accept_joining_member(const Group& g, std::string_view member_id) const {
  auto it = g.members.find(member_id);
  const bool known = it != g.members.end();
  switch (g.state) {
    case GroupState::kEmpty:
      return true;
    case GroupState::kPreparingRebalance: {
      // Counting members that have rejoined (not all members) lets a group whose size limit was
      // lowered shed the members that rejoin last.
      size_t awaiting = 0;
      for (const auto& [id, m] : g.members) awaiting += m.awaiting_join ? 1 : 0;
      return (known && it->second.awaiting_join) ||
             awaiting < static_cast<size_t>(options_.max_group_size);
    }
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      return known || g.members.size() < static_cast<size_t>(options_.max_group_size);
  }
  return false;
}

int16_t GroupCoordinator::validate_member(const Group& g, std::string_view member_id,
                                          std::optional<std::string_view> group_instance_id) {
  if (group_instance_id) {
    auto held = g.static_members.find(*group_instance_id);
    if (held == g.static_members.end()) return err::kUnknownMemberId;
    if (held->second != member_id) return err::kFencedInstanceId;
  }
  return g.members.contains(member_id) ? err::kNone : err::kUnknownMemberId;
}

bool GroupCoordinator::supports_protocols(
    const Group& g, std::string_view protocol_type,
    const std::vector<std::pair<std::string, std::string>>& protocols) const {
  if (g.state == GroupState::kEmpty) return !protocol_type.empty() && !protocols.empty();
  if (protocol_type != g.protocol_type) return false;
  // At least one of the member's protocols must be supported by every current member.
  return std::any_of(protocols.begin(), protocols.end(), [&](const auto& p) {
    return std::all_of(g.members.begin(), g.members.end(), [&](const auto& entry) {
      return has_protocol(entry.second.protocols, p.first);
    });
  });
}

void GroupCoordinator::add_member_and_rebalance(Group& g, JoinGroupArgs& args,
                                                std::string member_id, int64_t now_ms,
                                                JoinCallback done) {
  Member m;
  m.id = member_id;
  m.group_instance_id = std::move(args.group_instance_id);
  m.client_id = std::move(args.client_id);
  m.client_host = std::move(args.client_host);
  m.protocols = std::move(args.protocols);
  m.session_timeout_ms = args.session_timeout_ms;
  m.rebalance_timeout_ms = args.rebalance_timeout_ms;
  m.join_order = next_join_order_++;
  m.is_new = true;
  // A new member cannot heartbeat while its JoinGroup waits, and a client that gave up on a long
  // rebalance retries as yet another new member: so its first join has a limit of its own.
  m.session_deadline_ms = now_ms + options_.new_member_join_timeout_ms;
  m.awaiting_join = std::move(done);

  if (g.state == GroupState::kPreparingRebalance && g.generation_id == 0) {
    g.new_member_added = true;
  }
  if (g.members.empty()) g.protocol_type = args.protocol_type;
  if (g.leader.empty()) g.leader = member_id;
  if (m.group_instance_id) g.static_members[*m.group_instance_id] = member_id;
  g.pending_members.erase(member_id);
  g.members.emplace(std::move(member_id), std::move(m));
  maybe_prepare_rebalance(g, now_ms);
}

void GroupCoordinator::replace_static_member(Group& g, JoinGroupArgs& args,
                                             std::string new_member_id, int64_t now_ms,
                                             JoinCallback done) {
  std::string& holder = g.static_members.find(*args.group_instance_id)->second;
  const std::string previous_leader = g.leader;
  auto node = g.members.extract(holder);
  assert(!node.empty());
  // What still waits under the old id comes from the instance's previous incarnation.
  if (node.mapped().awaiting_join) {
    answer_join(node.mapped(), join_error(err::kFencedInstanceId, holder));
  }
  if (node.mapped().awaiting_sync) answer_sync(node.mapped(), sync_error(err::kFencedInstanceId));
  // The new id takes the member's place: its join order, client, assignment (Kafka keeps the old
  // member's client id and host too). A member pending sync under the old id stays pending under
  // it, as in Kafka: the sync deadline then rebalances.
  if (g.leader == holder) g.leader = new_member_id;
  holder = new_member_id;
  node.key() = new_member_id;
  node.mapped().id = new_member_id;
  Member& m = g.members.insert(std::move(node)).position->second;
  m.is_new = false;
  m.session_deadline_ms = now_ms + m.session_timeout_ms;
  m.protocols = std::move(args.protocols);
  m.session_timeout_ms = args.session_timeout_ms;
  m.rebalance_timeout_ms = args.rebalance_timeout_ms;
  m.awaiting_join = std::move(done);
  switch (g.state) {
    case GroupState::kStable:
      if (select_protocol(g) == g.protocol_name) {
        // Nothing to reassign: the member is answered with the current generation. Before
        // JoinGroup v9 (skip_assignment) Kafka names the leader as it was before the
        // replacement, so a replaced leader carries on as a follower with its assignment.
        JoinGroupResult r;
        r.error = err::kNone;
        r.generation_id = g.generation_id;
        r.protocol_type = g.protocol_type;
        r.protocol_name = g.protocol_name;
        r.leader = previous_leader;
        r.member_id = m.id;
        answer_join(m, std::move(r));
      } else {
        prepare_rebalance(g, now_ms);
      }
      return;
    case GroupState::kCompletingRebalance:
      // The leader may be assigning to the old id: the generation starts over.
      prepare_rebalance(g, now_ms);
      return;
    case GroupState::kPreparingRebalance:
      try_complete_join(g, now_ms);
      return;
    case GroupState::kEmpty:
      // An Empty group has no members, so no instance id is held.
      assert(false);
      return;
  }
}

void GroupCoordinator::update_member_and_rebalance(Group& g, Member& m, JoinGroupArgs& args,
                                                   int64_t now_ms, JoinCallback done) {
  m.protocols = std::move(args.protocols);
  m.session_timeout_ms = args.session_timeout_ms;
  m.rebalance_timeout_ms = args.rebalance_timeout_ms;
  if (!m.is_new) m.session_deadline_ms = now_ms + m.session_timeout_ms;
  // The earlier JoinGroup of this member is one its client gave up on (Kafka drops it); it is
  // answered here so that every callback runs once, with an error that only asks to rejoin.
  if (m.awaiting_join) answer_join(m, join_error(err::kRebalanceInProgress, m.id));
  m.awaiting_join = std::move(done);
  maybe_prepare_rebalance(g, now_ms);
}

JoinGroupResult GroupCoordinator::current_generation_answer(const Group& g, const Member& m) const {
  JoinGroupResult r;
  r.error = err::kNone;
  r.generation_id = g.generation_id;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol_name;
  r.leader = g.leader;
  r.member_id = m.id;
  if (m.id == g.leader) {
    std::vector<const Member*> order;
    for (const auto& [id, each] : g.members) order.push_back(&each);
    std::sort(order.begin(), order.end(),
              [](const Member* a, const Member* b) { return a->join_order < b->join_order; });
    for (const Member* each : order) {
      const std::string* metadata = metadata_for(each->protocols, g.protocol_name);
      r.members.push_back({each->id, each->group_instance_id, metadata ? *metadata : ""});
    }
  }
  return r;
}

void GroupCoordinator::remove_member(Group& g, std::string_view member_id) {
  if (auto p = g.pending_members.find(member_id); p != g.pending_members.end()) {
    g.pending_members.erase(p);
    return;
  }
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = it->second;
  if (m.awaiting_join) answer_join(m, join_error(err::kUnknownMemberId, ""));
  if (m.awaiting_sync) answer_sync(m, sync_error(err::kUnknownMemberId));
  if (m.group_instance_id) g.static_members.erase(*m.group_instance_id);
  g.pending_sync.erase(m.id);
  const bool was_leader = g.leader == m.id;
  g.members.erase(it);
  if (was_leader) {
    g.leader.clear();
    uint64_t earliest = 0;
    for (const auto& [id, each] : g.members) {
      if (g.leader.empty() || each.join_order < earliest) {
        g.leader = id;
        earliest = each.join_order;
      }
    }
  }
}

void GroupCoordinator::remove_member_and_update_group(Group& g, std::string_view member_id,
                                                      int64_t now_ms) {
  remove_member(g, member_id);
  switch (g.state) {
    case GroupState::kEmpty:
      break;
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      prepare_rebalance(g, now_ms);
      break;
    case GroupState::kPreparingRebalance:
      try_complete_join(g, now_ms);
      break;
  }
}

void GroupCoordinator::remove_pending_member_and_update_group(Group& g, std::string_view member_id,
                                                              int64_t now_ms) {
  g.pending_members.erase(g.pending_members.find(member_id));
  try_complete_join(g, now_ms);
}

// ---------------------------------------------------------------------------------------------
// Rebalance

void GroupCoordinator::maybe_prepare_rebalance(Group& g, int64_t now_ms) {
  if (g.state != GroupState::kPreparingRebalance) prepare_rebalance(g, now_ms);
}

void GroupCoordinator::prepare_rebalance(Group& g, int64_t now_ms) {
  if (g.state == GroupState::kCompletingRebalance) {
    // Followers waiting for an assignment of the generation being replaced are sent to rejoin.
    for (Member* m : in_join_order(g)) {
      m->assignment.clear();
      if (m->awaiting_sync) {
        answer_sync(*m, sync_error(err::kRebalanceInProgress));
        m->session_deadline_ms = now_ms + m->session_timeout_ms;
      }
    }
  }
  g.pending_sync.clear();
  const int32_t rebalance_timeout = rebalance_timeout_ms(g);
  if (g.state == GroupState::kEmpty) {
    // The first rebalance of an empty group waits a little so that a fleet of consumers starting
    // together forms one generation instead of one per arrival.
    g.initial_delay = true;
    g.new_member_added = false;
    g.join_deadline_ms = now_ms + options_.initial_rebalance_delay_ms;
    g.initial_delay_remaining_ms =
        std::max(rebalance_timeout - options_.initial_rebalance_delay_ms, 0);
  } else {
    g.initial_delay = false;
    g.join_deadline_ms = now_ms + rebalance_timeout;
  }
  g.state = GroupState::kPreparingRebalance;
  try_complete_join(g, now_ms);
}

void GroupCoordinator::try_complete_join(Group& g, int64_t now_ms) {
  if (g.state != GroupState::kPreparingRebalance || g.initial_delay) return;
  if (!g.pending_members.empty()) return;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join) return;
  }
  complete_join(g, now_ms);
}

void GroupCoordinator::on_join_deadline(Group& g, int64_t now_ms) {
  if (g.initial_delay && g.new_member_added && g.initial_delay_remaining_ms > 0) {
    const int32_t delay =
        std::min(options_.initial_rebalance_delay_ms, g.initial_delay_remaining_ms);
    g.new_member_added = false;
    g.initial_delay_remaining_ms = std::max(g.initial_delay_remaining_ms - delay, 0);
    g.join_deadline_ms = now_ms + delay;
    return;
  }
  complete_join(g, now_ms);
}

void GroupCoordinator::complete_join(Group& g, int64_t now_ms) {
  // Dynamic members that did not rejoin in time are out (they have no waiting callbacks: their
  // syncs were answered when the rebalance began). Static members stay, until their session
  // times out or they miss the sync deadline. Pending members stay pending, with their own
  // expiry.
  std::vector<std::string> not_rejoined;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join && !m.group_instance_id) not_rejoined.push_back(id);
  }
  for (const std::string& id : not_rejoined) remove_member(g, id);

  g.initial_delay = false;
  g.new_member_added = false;
  if (!g.members.empty() && !g.members.find(g.leader)->second.awaiting_join) {
    // The leader is a static member that has not rejoined: the earliest-joined member that has
    // leads. If none has, the rebalance waits another rebalance timeout (Kafka's choice), for
    // rejoins or for the static members' sessions to run out.
    std::vector<Member*> order = in_join_order(g);
    auto joined = std::find_if(order.begin(), order.end(),
                               [](const Member* m) { return bool(m->awaiting_join); });
    if (joined == order.end()) {
      g.join_deadline_ms = now_ms + std::max(rebalance_timeout_ms(g), 1);
      return;
    }
    g.leader = (*joined)->id;
  }
  ++g.generation_id;
  if (g.members.empty()) {
    g.protocol_name.clear();
    g.state = GroupState::kEmpty;
    return;
  }
  g.protocol_name = select_protocol(g);
  g.state = GroupState::kCompletingRebalance;
  for (Member* m : in_join_order(g)) {
    if (m->awaiting_join) answer_join(*m, current_generation_answer(g, *m));
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    m->is_new = false;
    g.pending_sync.insert(m->id);
  }
  g.sync_deadline_ms = now_ms + rebalance_timeout_ms(g);
}

std::string GroupCoordinator::select_protocol(const Group& g) const {
  const Member& leader = g.members.find(g.leader)->second;
  auto is_candidate = [&](std::string_view name) {
    return std::all_of(g.members.begin(), g.members.end(), [&](const auto& entry) {
      return has_protocol(entry.second.protocols, name);
    });
  };
  // Each member votes for the first protocol in its own preference order that all support.
  std::map<std::string, int, std::less<>> votes;
  for (const auto& [id, m] : g.members) {
    for (const auto& p : m.protocols) {
      if (is_candidate(p.first)) {
        ++votes[p.first];
        break;
      }
    }
  }
  std::string chosen;
  int best = 0;
  for (const auto& p : leader.protocols) {  // ties go to the leader's preference
    auto v = votes.find(p.first);
    if (v != votes.end() && v->second > best) {
      chosen = p.first;
      best = v->second;
    }
  }
  // Every join checks that a common protocol exists, so there is always a candidate; should
  // there not be one, the leader's first choice keeps the group going.
  if (chosen.empty() && !leader.protocols.empty()) chosen = leader.protocols.front().first;
  return chosen;
}

int32_t GroupCoordinator::rebalance_timeout_ms(const Group& g) const {
  int32_t timeout = 0;
  for (const auto& [id, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  return timeout;
}

// ---------------------------------------------------------------------------------------------
// Time

std::optional<int64_t> GroupCoordinator::member_due(const Member& m) const {
  // A member whose JoinGroup or SyncGroup waits on the coordinator cannot heartbeat, so it does
  // not expire then; except a new member's first JoinGroup, which has its own limit.
  if (m.awaiting_sync) return std::nullopt;
  if (m.awaiting_join && !m.is_new) return std::nullopt;
  return m.session_deadline_ms;
}

std::optional<GroupCoordinator::Event> GroupCoordinator::earliest_event(const Group& g) const {
  std::optional<Event> best;
  auto consider = [&](int64_t at, EventKind kind, const std::string* member_id) {
    if (best && (best->at_ms < at || (best->at_ms == at && best->kind <= kind))) return;
    best = Event{at, kind, member_id ? *member_id : std::string()};
  };
  for (const auto& [id, deadline] : g.pending_members) {
    consider(deadline, EventKind::kPendingMemberExpiry, &id);
  }
  for (const auto& [id, m] : g.members) {
    if (auto due = member_due(m)) consider(*due, EventKind::kSessionExpiry, &id);
  }
  if (g.state == GroupState::kPreparingRebalance) {
    consider(g.join_deadline_ms, EventKind::kJoinDeadline, nullptr);
  }
  if ((g.state == GroupState::kCompletingRebalance || g.state == GroupState::kStable) &&
      !g.pending_sync.empty()) {
    consider(g.sync_deadline_ms, EventKind::kSyncDeadline, nullptr);
  }
  return best;
}

void GroupCoordinator::advance(Group& g, int64_t now_ms) {
  // Each event removes a member or moves a deadline past now_ms, so the loop ends.
  for (;;) {
    std::optional<Event> ev = earliest_event(g);
    if (!ev || ev->at_ms > now_ms) break;
    switch (ev->kind) {
      case EventKind::kPendingMemberExpiry:
        remove_pending_member_and_update_group(g, ev->member_id, now_ms);
        break;
      case EventKind::kSessionExpiry:
        remove_member_and_update_group(g, ev->member_id, now_ms);
        break;
      case EventKind::kJoinDeadline:
        on_join_deadline(g, now_ms);
        break;
      case EventKind::kSyncDeadline: {
        // Members that never sent SyncGroup for this generation (a leader that died before
        // assigning, say) are removed, and the others rebalance without them.
        std::vector<std::string> silent(g.pending_sync.begin(), g.pending_sync.end());
        for (const std::string& id : silent) remove_member(g, id);
        prepare_rebalance(g, now_ms);
        break;
      }
    }
  }
  reindex(g);
}

void GroupCoordinator::reindex(Group& g) {
  std::optional<Event> ev = earliest_event(g);
  std::optional<int64_t> deadline = ev ? std::optional<int64_t>(ev->at_ms) : std::nullopt;
  if (deadline == g.indexed_deadline) return;
  if (g.indexed_deadline) timers_.erase({*g.indexed_deadline, g.id});
  if (deadline) timers_.emplace(*deadline, g.id);
  g.indexed_deadline = deadline;
}

// ---------------------------------------------------------------------------------------------
// Plumbing

void GroupCoordinator::answer_join(Member& m, JoinGroupResult result) {
  JoinCallback done = std::exchange(m.awaiting_join, nullptr);
  assert(done);
  post([done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
}

void GroupCoordinator::answer_sync(Member& m, SyncGroupResult result) {
  SyncCallback done = std::exchange(m.awaiting_sync, nullptr);
  assert(done);
  post([done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
}

void GroupCoordinator::post(std::function<void()> call) { outbox_.push_back(std::move(call)); }

void GroupCoordinator::flush() {
  std::vector<std::function<void()>> ready = std::move(outbox_);
  outbox_.clear();
  for (auto& call : ready) call();
}

GroupCoordinator::Group* GroupCoordinator::find_group(std::string_view group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

const GroupCoordinator::Group* GroupCoordinator::find_group(std::string_view group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

GroupCoordinator::Group& GroupCoordinator::create_group(std::string_view group_id) {
  Group g;
  g.id = std::string(group_id);
  return groups_.emplace(g.id, std::move(g)).first->second;
}

std::string GroupCoordinator::generate_member_id(const Group& g, std::string_view prefix) {
  // As Kafka; unique in the group by construction of the loop.
  for (;;) {
    uint64_t hi = member_id_rng_();
    uint64_t lo = member_id_rng_();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
    char uuid[37];
    std::snprintf(uuid, sizeof uuid, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                  static_cast<unsigned>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    std::string id = std::string(prefix) + "-" + uuid;
    if (!g.members.contains(id) && !g.pending_members.contains(id)) return id;
  }
}

std::vector<GroupCoordinator::Member*> GroupCoordinator::in_join_order(Group& g) {
  std::vector<Member*> order;
  order.reserve(g.members.size());
  for (auto& [id, m] : g.members) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](const Member* a, const Member* b) { return a->join_order < b->join_order; });
  return order;
}

std::string_view GroupCoordinator::state_name(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
  }
  return "Dead";
}

}  // namespace kappa
