// ExecuTorch's log and abort, routed through the runner so that a refused bundle still ends in one stderr line.
//
// ExecuTorch logs through its platform layer (stderr on Linux, logcat on Android), one line per event, and a
// failed internal check calls the platform's abort (SIGABRT, exit 134). The runner registers its own log and
// abort functions: log lines are kept (shown only with --verbose, or, for errors, after a run that succeeded),
// the first error is appended to the runner's own one-line error, and an abort while a phase is named becomes
// that phase's one-line error and exit code instead of a core dump. So does a crash (SIGSEGV and the like) while
// a phase is named: XNNPACK's reader of a delegate blob trusts the ids in it, and a garbled blob can crash it.
#pragma once

#include <string>

namespace lazydit {

// Registers the log and abort functions and the crash handlers; call before ExecuTorch does anything. With verbose
// every ExecuTorch log line goes to stderr as it comes.
void install_executorch_platform(bool verbose);

// The first error (or the fatal) message ExecuTorch logged since the previous call, one line; empty when none.
std::string take_executorch_error();

// Errors ExecuTorch logged during a run that then succeeded, written to stderr once.
void flush_executorch_log();

// What the runner is doing, for the message of an abort or crash inside it ("<file>: ExecuTorch cannot load
// this program"), and the exit code it gets. Outside any phase an abort is a plain failure (exit 1) and a crash
// takes its default action.
struct Phase {
  Phase(std::string what, int exit_code);
  ~Phase();
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  std::string previous_;
  int previous_code_;
};

}  // namespace lazydit
