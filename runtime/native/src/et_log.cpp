#include "et_log.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
std::string g_first_error;
std::vector<std::string> g_kept;  // errors of the run so far, shown after a successful run
std::string g_phase;
int g_phase_code = kExitRuntime;

std::string clean(const char* message, size_t length) {
  std::string s(message, length);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return one_line(s);
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
  // The first error since the last take is the cause; what follows it is usually clean-up failing in turn
  // ("XNNCompiler::compileModel failed" and "delete_packed_data called before finalize_for_runtime" after
  // "Remapped id not found"). A fatal message is what the abort that follows it is about, so it wins.
  if ((level == kError && g_first_error.empty()) || level == kFatal) g_first_error = text;
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
    last = g_first_error;
    code = g_phase_code;
  }
  const std::string what = phase.empty() ? "lazydit_runner: ExecuTorch stopped on an internal check" : phase;
  const std::string line = what + " (ExecuTorch aborted" + (last.empty() ? "" : ": " + last) + ")";
  std::fprintf(stderr, "%s\n", one_line(line).c_str());
  std::fflush(stderr);
  // _Exit: static destructors of a half-initialised runtime must not run (and could abort again).
  std::_Exit(code);
}

// The phase's line for the crash handler, formatted before any crash: a signal handler may only write() and
// _exit(). Length 0 means no phase, and the signal takes its default action.
char g_signal_line[4096];
volatile sig_atomic_t g_signal_len = 0;
volatile sig_atomic_t g_signal_code = kExitRuntime;

void set_signal_line(const std::string& phase, int code) {
  g_signal_len = 0;
  const std::string line = one_line(phase);
  const size_t n = std::min(line.size(), sizeof g_signal_line);
  std::memcpy(g_signal_line, line.data(), n);
  g_signal_code = code;
  g_signal_len = static_cast<sig_atomic_t>(n);
}

void write_all(const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// A delegate blob is parsed by XNNPACK's own reader, which trusts the ids inside it: a garbled blob that still
// passes its flatbuffer verifier can make it read out of bounds (seen: SIGSEGV in defineGenericBinaryNode on a
// .pte with a few flipped bits and a recomputed checksum). That cannot be caught as an error, so while a phase
// is named the crash becomes the phase's one line and exit code instead of a core dump; nothing continues.
void on_signal(int sig) {
  const size_t n = static_cast<size_t>(g_signal_len);
  if (n == 0) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                     : sig == SIGILL ? "SIGILL" : "SIGABRT";
  write_all(g_signal_line, n);
  write_all(" (ExecuTorch crashed: ", 22);
  write_all(name, std::strlen(name));
  write_all(")\n", 2);
  ::_exit(g_signal_code);
}

void install_signal_handlers() {
  // An alternate stack, so that a crash from a runaway recursion still has a stack to report on.
  static std::vector<char> alt(64 * 1024);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_executorch_platform(bool verbose) {
  g_verbose = verbose;
  install_signal_handlers();
  executorch::runtime::PalImpl impl{};
  impl.emit_log_message = emit;
  impl.abort = on_abort;
  impl.source_filename = __FILE__;
  executorch::runtime::register_pal(impl);
}

std::string take_executorch_error() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::string s;
  s.swap(g_first_error);
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
  set_signal_line(g_phase, g_phase_code);
}

Phase::~Phase() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_phase = std::move(previous_);
  g_phase_code = previous_code_;
  if (g_phase.empty()) g_signal_len = 0;
  else set_signal_line(g_phase, g_phase_code);
}

}  // namespace lazydit
