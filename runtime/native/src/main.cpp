// lazydit_runner: runs a lazydit bundle's ExecuTorch graphs with the step scheduler, times them and checks
// them against the bundle's golden trace. The device-side program of the Android benchmark; see
// docs/native-runner.md.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "bundle.h"
#include "errors.h"
#include "et_log.h"
#include "golden.h"
#include "options.h"
#include "program.h"
#include "report.h"
#include "scheduler.h"
#include "tensor_io.h"

namespace fs = std::filesystem;
using namespace lazydit;

namespace {

std::vector<int> choose_classes(const Options& o, const Bundle& b, const std::optional<GoldenTrace>& trace) {
  std::vector<int> classes;
  if (o.classes) classes = *o.classes;
  else if (trace) classes = trace->classes;
  else
    for (int i = 0; i < b.batch; ++i) classes.push_back(i % b.num_classes);
  if (static_cast<int>(classes.size()) != b.batch)
    throw InputError("lazydit_runner: this bundle generates " + std::to_string(b.batch) + " image(s) per run; got " +
                     std::to_string(classes.size()) + " class labels");
  for (int c : classes)
    if (c < 0 || c >= b.num_classes)
      throw InputError("lazydit_runner: class " + std::to_string(c) + " out of range 0.." +
                       std::to_string(b.num_classes - 1));
  return classes;
}

int run(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (o.help) {
    std::cout << usage_text();
    return kExitOk;
  }
  install_executorch_platform(o.verbose);
  std::vector<MemorySample> memory = {sample_memory("start")};
  const Bundle b = load_bundle(o.bundle);

  // The trace supplies the default noise and labels; with --golden it is also what the run must reproduce.
  std::optional<GoldenTrace> trace;
  std::error_code ec;
  const bool have_trace = fs::is_regular_file(golden_trace_path(b), ec);
  if (o.golden || (have_trace && (o.noise.empty() || !o.classes))) trace = read_golden(b);
  if (o.golden && !o.noise.empty())
    throw InputError("lazydit_runner: --golden replays the trace's own noise; drop --noise");
  const std::vector<int> classes = choose_classes(o, b, trace);
  if (o.golden && classes != trace->classes)
    throw InputError("lazydit_runner: --golden replays the trace's classes; drop --classes or pass the trace's");
  std::string noise_path = o.noise;
  if (noise_path.empty()) {
    if (!trace)
      throw InputError(golden_trace_path(b) + ": missing, so there is no default noise; pass --noise FILE");
    noise_path = trace->noise_path;
  }
  const std::vector<float> noise = read_f32_file(noise_path, b.tensor("x").numel());

  Program program(b, {o.threads, o.weight_cache, o.mmap});
  memory.push_back(sample_memory("program loaded"));
  ReportData report;
  report.bundle = &b;
  report.options = &o;
  report.classes = classes;
  report.noise_path = noise_path;
  report.threads = program.thread_count();
  report.program_load_ms = program.program_load_ms();
  for (const Variant& v : b.variants) {
    report.method_load_ms.emplace_back(v.name, program.load_method(v));
    memory.push_back(sample_memory("method " + v.name + " loaded"));
  }
  if (b.has_decoder()) {
    report.decoder_load_ms = program.load_decoder(b);
    memory.push_back(sample_memory("decoder loaded"));
  }

  Scheduler scheduler(b, program);
  const std::vector<int32_t> labels(classes.begin(), classes.end());
  {
    Phase running(b.program_path + ": ExecuTorch failed while running the steps", kExitRuntime);
    for (int i = 0; i < o.warmup + o.repeat; ++i) {
      RunResult r = scheduler.run(noise, labels, o.golden);
      if (o.golden && report.golden_problems.empty()) {
        for (const auto& p : compare_to_golden(*trace, b, r.latents, r.image))
          report.golden_problems.push_back("run " + std::to_string(i) + ": " + p);
      }
      r.latents.clear();
      if (i >= o.warmup) report.runs.push_back(std::move(r));
    }
  }
  report.golden_checked = o.golden;
  memory.push_back(sample_memory("runs done"));
  report.memory = memory;

  if (!o.out_latent.empty()) {
    const auto x = scheduler.latent();
    write_f32_file(o.out_latent, x.data(), x.size());
  }
  if (!o.out_image.empty()) {
    const auto image = scheduler.image();
    write_f32_file(o.out_image, image.data(), image.size());
  }
  if (!o.report.empty()) write_report(o.report, report);

  const Summary s = summarize(report);
  std::printf("bundle %s: %zu steps, %zu variants, %d threads\n", b.root.c_str(), b.steps.size(), b.variants.size(),
              report.threads);
  std::printf("load: program %.2f ms, methods %.2f ms\n", s.program_load_ms, s.methods_load_ms);
  std::printf("run: median %.3f ms, p90 %.3f ms over %d runs\n", s.total_median_ms, s.total_p90_ms, o.repeat);
  for (const auto& [v, ms] : s.variant_median_step_ms) std::printf("  %s: median step %.3f ms\n", v.c_str(), ms);
  if (s.decode_median_ms) std::printf("  decoder: median %.3f ms\n", *s.decode_median_ms);
  std::printf("peak RSS: %.1f MiB\n", s.peak_rss_kb / 1024.0);
  flush_executorch_log();
  if (o.golden) {
    if (!report.golden_problems.empty()) {
      for (const auto& p : report.golden_problems) std::fprintf(stderr, "golden mismatch: %s\n", p.c_str());
      return kExitGolden;
    }
    std::printf("golden: %zu steps match %s\n", b.steps.size(), trace->path.c_str());
    if (b.has_decoder()) {
      // A trace written before traces recorded the decoded image checks the steps only; say so rather than
      // let a pass read as covering the decoder.
      if (trace->image) std::printf("golden: decoded image matches\n");
      else std::printf("golden: the trace records no decoded image, so the decoder was not checked; re-export the bundle to check it\n");
    }
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s\n", one_line(e.what()).c_str());
    return kExitInput;
  } catch (const nlohmann::json::exception& e) {
    // Every JSON field is read through checks that throw InputError; one that slips past is still a bad file,
    // and still one line.
    std::fprintf(stderr, "lazydit_runner: malformed JSON in the bundle (%s)\n", one_line(e.what()).c_str());
    return kExitInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lazydit_runner: %s\n", one_line(e.what()).c_str());
    return kExitRuntime;
  } catch (...) {
    std::fprintf(stderr, "lazydit_runner: stopped on an unknown exception\n");
    return kExitRuntime;
  }
}
