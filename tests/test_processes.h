// Helpers for tests that run processes: the kappa binary as a child (KAPPA_BINARY), scratch
// directories, polling, and a shell command's output. Header-only, for tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace kappa {

// Starts argv[0] with its arguments, stdout and stderr appended to log_path; -1 if it could not.
inline pid_t spawn_logged(std::vector<std::string> all, const std::string& log_path) {
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// A child process running the kappa binary.
struct Child {
  pid_t pid = -1;
  std::string log;
  Child(const std::vector<std::string>& args, const std::string& log_path) : log(log_path) {
    std::vector<std::string> all = {KAPPA_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    pid = spawn_logged(std::move(all), log_path);
  }
  // Sends `sig` and waits; returns the exit status as waitpid reports it.
  int stop(int sig) {
    if (pid <= 0) return -1;
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  // Waits at most `seconds`; a child still running then is killed and -1 returned.
  int wait_for(int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop(SIGKILL);
    return -1;
  }
  ~Child() {
    if (pid > 0) stop(SIGKILL);
  }
  std::string output() const {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

struct Dir {
  std::filesystem::path path;
  explicit Dir(const std::string& name) {
    path = std::filesystem::temp_directory_path() /
           ("kappa_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& f) const { return (path / f).string(); }
};

// Polls `done` every 100 ms for up to `seconds`.
inline bool eventually(int seconds, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// Waits up to `seconds` for a broker child (`kappa broker`, `kappa run --listen`) to print
// "listening on HOST:PORT", reading its output with `output`; returns that address, or "" when
// `exited` says the child stopped first or the time ran out.
inline std::string wait_listening(const std::function<std::string()>& output,
                                  const std::function<bool()>& exited, int seconds = 20) {
  const std::regex listening("listening on ([0-9.]+:[0-9]+)");
  std::string address;
  eventually(seconds, [&] {
    std::smatch m;
    const std::string out = output();
    if (std::regex_search(out, m, listening)) {
      address = m[1].str();
      return true;
    }
    return exited();
  });
  return address;
}

inline std::string run_capture(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A TCP connection to "HOST:PORT" (an IPv4 address), or -1.
inline int connect_to(const std::string& address) {
  const auto colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace kappa
