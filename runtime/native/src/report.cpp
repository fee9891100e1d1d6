#include "report.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <fstream>
#include <map>
#include <thread>

#if defined(__ANDROID__)
#include <sys/system_properties.h>
#endif

#include <nlohmann/json.hpp>

#include "errors.h"
#include "sha256.h"

using nlohmann::json;

namespace lazydit {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  // x86 names the model; arm64 kernels print "Hardware" on some vendors' kernels and only part numbers on others.
  for (const char* key : {"model name", "Hardware", "CPU part"}) {
    in.clear();
    in.seekg(0);
    while (std::getline(in, line)) {
      if (line.rfind(key, 0) == 0) {
        const auto colon = line.find(':');
        if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
      }
    }
  }
  return "";
}

#if defined(__ANDROID__)
std::string property(const char* name) {
  char value[PROP_VALUE_MAX] = {0};
  __system_property_get(name, value);
  return value;
}
#endif

json device_info(int threads) {
  json d;
  struct utsname u {};
  if (uname(&u) == 0) {
    d["os"] = std::string(u.sysname) + " " + u.release;
    d["arch"] = u.machine;
  }
  d["cpu"] = cpu_model();
  d["hardware_concurrency"] = std::thread::hardware_concurrency();
  d["threads"] = threads;
#if defined(__ANDROID__)
  d["android"] = {{"model", property("ro.product.model")},
                  {"manufacturer", property("ro.product.manufacturer")},
                  {"soc", property("ro.soc.model")},
                  {"sdk", property("ro.build.version.sdk")}};
#endif
  return d;
}

json runner_info() {
  return {{"name", "lazydit_runner"},
          {"backend", "executorch"},
          {"executorch", LAZYDIT_EXECUTORCH_VERSION},
          {"build_type", LAZYDIT_BUILD_TYPE},
#if defined(__clang__)
          {"compiler", "clang " __clang_version__},
#elif defined(__GNUC__)
          {"compiler", "gcc " __VERSION__},
#else
          {"compiler", "unknown"},
#endif
          {"sha256", sha256_implementation()}};
}

json stats(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return {{"median", median(v)}, {"p90", percentile(v, 90)}, {"min", *std::min_element(v.begin(), v.end())},
          {"max", *std::max_element(v.begin(), v.end())}, {"mean", sum / v.size()}, {"count", v.size()}};
}

}  // namespace

MemorySample sample_memory(const std::string& stage) {
  MemorySample s;
  s.stage = stage;
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident) s.rss_kb = pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
  // VmHWM first: Linux carries ru_maxrss across exec, so a runner started by a large process (a Python
  // benchmark driver) would report its parent's peak.
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      s.peak_rss_kb = std::strtol(line.c_str() + 6, nullptr, 10);
      return s;
    }
  }
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) == 0) s.peak_rss_kb = ru.ru_maxrss;  // kilobytes on Linux and Android
  return s;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = (q / 100.0) * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

static json make_report(const ReportData& d) {
  const Bundle& b = *d.bundle;
  json r;
  r["format"] = "lazydit-native-report/1";
  r["runner"] = runner_info();
  r["device"] = device_info(d.threads);
  r["bundle"] = {{"path", b.root}, {"name", b.name}, {"fingerprint", b.fingerprint}, {"program", b.program_file},
                 {"steps", b.steps.size()}, {"variants", b.variants.size()}, {"batch", b.batch},
                 {"dtype", dtype_name(b.tensor("x").dtype)},
                 {"decoder", b.has_decoder() ? json(b.decoder_method) : json(nullptr)}};
  r["options"] = {{"warmup", d.options->warmup}, {"repeat", d.options->repeat}, {"threads", d.options->threads},
                  {"weight_cache", d.options->weight_cache}, {"load_mode", d.options->mmap ? "mmap" : "file"},
                  {"classes", d.classes}, {"noise", d.noise_path}};

  json methods = json::object();
  double methods_total = 0;
  for (const auto& [variant, ms] : d.method_load_ms) {
    methods[variant] = ms;
    methods_total += ms;
  }
  r["load_ms"] = {{"program", d.program_load_ms}, {"methods", methods}, {"methods_total", methods_total},
                  {"total", d.program_load_ms + methods_total + d.decoder_load_ms.value_or(0)}};
  // Its own key rather than an entry of "methods", whose keys are variant names.
  if (d.decoder_load_ms) r["load_ms"]["decoder"] = *d.decoder_load_ms;

  json runs = json::array();
  std::vector<double> totals, decodes;
  std::map<std::string, std::vector<double>> per_variant;
  for (const RunResult& run : d.runs) {
    json steps = json::array();
    for (size_t i = 0; i < run.step_ms.size(); ++i) {
      const std::string& v = b.variants[b.steps[i].variant].name;
      steps.push_back({{"index", i}, {"variant", v}, {"ms", run.step_ms[i]}});
      per_variant[v].push_back(run.step_ms[i]);
    }
    json entry = {{"total_ms", run.total_ms}, {"steps", steps}};
    // Only with a decoder, so that a pixel bundle's report is what it was.
    if (b.has_decoder()) {
      entry["decode_ms"] = run.decode_ms;
      decodes.push_back(run.decode_ms);
    }
    runs.push_back(entry);
    totals.push_back(run.total_ms);
  }
  r["runs"] = runs;
  r["total_ms"] = stats(totals);
  if (!decodes.empty()) r["decode_ms"] = stats(decodes);
  json pv = json::object();
  for (const auto& [v, ms] : per_variant) pv[v] = {{"median", median(ms)}, {"count", ms.size()}};
  r["per_variant_step_ms"] = pv;

  json stages = json::array();
  for (const auto& m : d.memory) stages.push_back({{"stage", m.stage}, {"rss_kb", m.rss_kb}, {"peak_rss_kb", m.peak_rss_kb}});
  r["memory"] = {{"peak_rss_kb", d.memory.empty() ? 0 : d.memory.back().peak_rss_kb}, {"stages", stages}};
  r["golden"] = {{"checked", d.golden_checked},
                 {"ok", d.golden_checked ? json(d.golden_problems.empty()) : json(nullptr)},
                 {"problems", d.golden_problems}};
  return r;
}

Summary summarize(const ReportData& d) {
  Summary s;
  s.program_load_ms = d.program_load_ms;
  for (const auto& m : d.method_load_ms) s.methods_load_ms += m.second;
  s.methods_load_ms += d.decoder_load_ms.value_or(0);
  std::vector<double> totals;
  for (const auto& run : d.runs) totals.push_back(run.total_ms);
  if (!totals.empty()) {
    s.total_median_ms = median(totals);
    s.total_p90_ms = percentile(totals, 90);
  }
  if (d.bundle->has_decoder() && !d.runs.empty()) {
    std::vector<double> decodes;
    for (const auto& run : d.runs) decodes.push_back(run.decode_ms);
    s.decode_median_ms = median(decodes);
  }
  const Bundle& b = *d.bundle;
  for (const Variant& v : b.variants) {
    std::vector<double> ms;
    for (const auto& run : d.runs)
      for (size_t i = 0; i < run.step_ms.size(); ++i)
        if (b.variants[b.steps[i].variant].name == v.name) ms.push_back(run.step_ms[i]);
    if (!ms.empty()) s.variant_median_step_ms.emplace_back(v.name, median(ms));
  }
  s.peak_rss_kb = d.memory.empty() ? 0 : d.memory.back().peak_rss_kb;
  return s;
}

void write_report(const std::string& path, const ReportData& d) {
  std::ofstream out(path, std::ios::trunc);
  if (!(out << make_report(d).dump(1) << "\n"))
    throw InputError(path + ": cannot write the report; check the folder exists and is writable");
}

}  // namespace lazydit
