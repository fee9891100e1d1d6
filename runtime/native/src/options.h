// Command line of lazydit_runner.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lazydit {

struct Options {
  std::string bundle;
  std::string noise;                       // empty: DIR/golden/<trace's noise file>
  std::optional<std::vector<int>> classes;  // unset: the golden trace's classes, else 0..batch-1
  int warmup = 1;
  int repeat = 5;
  int threads = 0;  // 0: ExecuTorch's default
  std::string out_latent;
  std::string out_image;  // the decoded image with a decoder, else the final latent (which is the image)
  std::string report;
  bool golden = false;
  bool weight_cache = true;
  bool mmap = true;
  bool verbose = false;  // ExecuTorch's log lines on stderr as they come
  bool help = false;
};

// Parses argv; throws InputError with a one-line message (and the fix) on bad usage.
Options parse_options(int argc, char** argv);

const char* usage_text();

}  // namespace lazydit
