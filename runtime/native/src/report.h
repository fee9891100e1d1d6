// The JSON timing report and what goes into it: statistics, memory samples, runner and device description.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bundle.h"
#include "options.h"
#include "scheduler.h"

namespace lazydit {

struct MemorySample {
  std::string stage;
  long rss_kb = 0;       // resident now (/proc/self/statm)
  long peak_rss_kb = 0;  // high-water mark so far (getrusage ru_maxrss)
};

MemorySample sample_memory(const std::string& stage);

// numpy's median and percentile (linear interpolation) of a non-empty list.
double median(std::vector<double> v);
double percentile(std::vector<double> v, double q);

struct ReportData {
  const Bundle* bundle = nullptr;
  const Options* options = nullptr;
  std::vector<int> classes;
  std::string noise_path;
  int threads = 0;
  double program_load_ms = 0;
  std::vector<std::pair<std::string, double>> method_load_ms;  // variant -> ms, in load order
  std::optional<double> decoder_load_ms;                       // with a decoder
  std::vector<RunResult> runs;                                 // timed runs only
  std::vector<MemorySample> memory;
  bool golden_checked = false;
  std::vector<std::string> golden_problems;
};

// The headline numbers, for the console.
struct Summary {
  double program_load_ms = 0, methods_load_ms = 0;
  double total_median_ms = 0, total_p90_ms = 0;
  std::optional<double> decode_median_ms;  // with a decoder
  std::vector<std::pair<std::string, double>> variant_median_step_ms;  // in order of first use
  long peak_rss_kb = 0;
};

Summary summarize(const ReportData& d);

// Writes the JSON report (format lazydit-native-report/1, documented in docs/native-runner.md); throws
// InputError naming the file when it cannot be written.
void write_report(const std::string& path, const ReportData& d);

}  // namespace lazydit
