// Golden trace (golden/trace.json): latent checksums after every step of a reference run (and of the decoded
// image, for a bundle with a decoder), and the comparison of a run against it. Same algorithm as lazydit/runtime/golden.py: float64 sums over the float32 values in
// C order, each checked within tolerance * max(1, |reference|).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bundle.h"

namespace lazydit {

struct Checksums {
  double sum = 0, abs_sum = 0, sum_sq = 0;
  std::vector<double> first;  // the first (up to) 8 values
};

Checksums checksums(const float* x, size_t n);

struct GoldenStep {
  std::string variant;
  std::vector<std::string> reads, writes;
  Checksums latent;
};

struct GoldenTrace {
  std::string path;        // .../golden/trace.json
  std::string noise_path;  // .../golden/<noise>
  std::vector<int> classes;
  std::vector<int64_t> shape;
  double tolerance = 1e-3;
  std::vector<GoldenStep> steps;
  std::optional<Checksums> image;  // image_checksums: the decoded image (traces of bundles with a decoder)
};

// Path of the bundle's trace; the file may not exist (bundles exported before golden traces existed).
std::string golden_trace_path(const Bundle& bundle);

// Reads and checks the trace; throws InputError naming the file on any problem.
GoldenTrace read_golden(const Bundle& bundle);

// Differences between a run (the latent's checksums after each step, the decoded image's when the run decoded)
// and the trace; empty when they match.
std::vector<std::string> compare_to_golden(const GoldenTrace& trace, const Bundle& bundle,
                                           const std::vector<Checksums>& latents,
                                           const std::optional<Checksums>& image);

}  // namespace lazydit
