// SIGINT and SIGTERM for the long-running commands (services, `kappa broker`): the handler only
// sets a flag, which the command's loop polls, so a stop always finishes cleanly.
#pragma once

#include <atomic>

namespace kappa {

void install_stop_handlers();
// Set once SIGINT or SIGTERM arrived.
std::atomic<bool>& stop_requested();

}  // namespace kappa
