// Error kinds of the runner; each maps to one exit code and is printed as one line on stderr.
#pragma once

#include <stdexcept>
#include <string>

namespace lazydit {

// Exit codes, documented in docs/native-runner.md.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;   // ExecuTorch failed while loading or running a method
constexpr int kExitInput = 2;     // bad arguments, bad bundle, bad noise file: nothing was run
constexpr int kExitGolden = 3;    // ran, but the latents disagree with golden/trace.json

// A problem with the command line or the files it names; the message starts with the file it is about.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ExecuTorch reported an error while loading or executing.
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lazydit
