#include "et_log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <executorch/runtime/platform/platform.h>

#include "errors.h"

namespace lazydit {
namespace {

// ExecuTorch may log from its thread pool, so the state is guarded; the abort path takes the lock too, because
// an abort can come from any thread.
std::mutex g_mutex;
bool g_verbose = false;
std::string g_last_error;
std::vector<std::string> g_kept;  // errors of the run so far, shown after a successful run
std::string g_phase;
int g_phase_code = kExitRuntime;

std::string clean(const char* message, size_t length) {
  std::string s(message, length);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

void emit(et_timestamp_t, et_pal_log_level_t level, const char* filename, const char*, size_t line,
          const char* message, size_t length) {
  const std::string text = clean(message, length);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_verbose) {
    std::fprintf(stderr, "executorch %c %s:%zu] %s\n", static_cast<char>(level), filename ? filename : "?", line,
                 text.c_str());
    return;
  }
  if (level == kError || level == kFatal) g_last_error = text;
  // Bounded: a method that logs on every step must not grow the process; the first messages say the most.
  if ((level == kError || level == kFatal) && g_kept.size() < 64) g_kept.push_back(text);
}

[[noreturn]] void on_abort() {
  std::string phase, last;
  int code = kExitRuntime;
  {
    // try_lock: the abort may come from inside emit's critical section on this very thread.
    std::unique_lock<std::mutex> lock(g_mutex, std::try_to_lock);
    phase = g_phase;
    last = g_last_error;
    code = g_phase_code;
  }
  const std::string what = phase.empty() ? "lazydit_runner: ExecuTorch stopped on an internal check" : phase;
  std::fprintf(stderr, "%s: ExecuTorch aborted%s%s%s\n", what.c_str(), last.empty() ? "" : " (", last.c_str(),
               last.empty() ? "" : ")");
  std::fflush(stderr);
  // _Exit: static destructors of a half-initialised runtime must not run (and could abort again).
  std::_Exit(code);
}

}  // namespace

void install_executorch_platform(bool verbose) {
  g_verbose = verbose;
  executorch::runtime::PalImpl impl{};
  impl.emit_log_message = emit;
  impl.abort = on_abort;
  impl.source_filename = __FILE__;
  executorch::runtime::register_pal(impl);
}

std::string take_executorch_error() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::string s;
  s.swap(g_last_error);
  return s;
}

void flush_executorch_log() {
  std::vector<std::string> kept;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    kept.swap(g_kept);
  }
  for (const auto& line : kept) std::fprintf(stderr, "executorch: %s\n", line.c_str());
}

Phase::Phase(std::string what, int exit_code) {
  std::lock_guard<std::mutex> lock(g_mutex);
  previous_ = std::move(g_phase);
  previous_code_ = g_phase_code;
  g_phase = std::move(what);
  g_phase_code = exit_code;
}

Phase::~Phase() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_phase = std::move(previous_);
  g_phase_code = previous_code_;
}

}  // namespace lazydit
