// Status and Result<T>: errors that cross a module seam (Log, Sink, scenario loading) are
// values, so a reader of a call site sees every failure path. A Status carries a code and a
// message that already says where (file:line, topic/partition/offset, JSON pointer) and what was
// expected. Inside a module exceptions are fine, as long as they never escape it.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kappa {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // the caller's input is wrong (bad scenario, bad flag): exit code 2
  kNotFound,            // a topic, table, file or fixture does not exist
  kAlreadyExists,       // creating something that is there and differs
  kFailedPrecondition,  // the system is not in a state that allows the call (live target table)
  kCorruption,          // stored bytes fail a check (CRC, torn record)
  kUnavailable,         // a server or a faulted component cannot be reached; retry may succeed
  kOutOfRange,          // an offset or index outside what exists
  kAborted,             // an injected crash or a deliberately stopped operation
  kInternal,            // a bug: an invariant does not hold
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalid_argument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "message" prefixed with what the caller was doing: "staging events/0@17: message".
  Status with_context(std::string_view context) const;
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds a T or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok() && "a Result built from a Status must be an error");
  }

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Status status() const { return is_ok() ? Status::ok() : std::get<1>(v_); }
  // The value, or `fallback` for an error (when the error itself does not matter).
  T value_or(T fallback) const& { return is_ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kappa

// Propagates a non-ok Status (or the Status of a failed Result) to the caller.
#define KAPPA_RETURN_IF_ERROR(expr)                     \
  do {                                                  \
    if (auto kappa_status_ = (expr); !kappa_status_) {  \
      return ::kappa::detail::status_of(kappa_status_); \
    }                                                   \
  } while (false)

namespace kappa::detail {
inline Status status_of(const Status& s) { return s; }
template <class T>
Status status_of(const Result<T>& r) {
  return r.status();
}
}  // namespace kappa::detail
