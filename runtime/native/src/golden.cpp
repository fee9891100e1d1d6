#include "golden.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "errors.h"
#include "json_file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lazydit {

Checksums checksums(const float* x, size_t n) {
  Checksums c;
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    c.sum += v;
    c.abs_sum += std::fabs(v);
    c.sum_sq += v * v;
    if (i < 8) c.first.push_back(v);
  }
  return c;
}

std::string golden_trace_path(const Bundle& bundle) {
  return (fs::path(bundle.root) / "golden" / "trace.json").string();
}

namespace {

Checksums parse_checksums(const json& j) {
  Checksums c;
  c.sum = j.at("sum").get<double>();
  c.abs_sum = j.at("abs_sum").get<double>();
  c.sum_sq = j.at("sum_sq").get<double>();
  c.first = j.at("first").get<std::vector<double>>();
  return c;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

bool close(double got, double ref, double tol) { return std::fabs(got - ref) <= tol * std::max(1.0, std::fabs(ref)); }

}  // namespace

GoldenTrace read_golden(const Bundle& bundle) {
  GoldenTrace g;
  // Both the trace and the noise file it names are bundle paths under the containment rule.
  g.path = contained_path(bundle, "golden/trace.json", bundle.root + ": the golden trace");
  std::error_code ec;
  if (!fs::is_regular_file(g.path, ec))
    throw InputError(g.path + ": missing; re-export the bundle with a lazydit version that writes golden traces");
  const json j = read_json_file(g.path);
  try {
    if (j.at("format").get<std::string>() != "lazydit-golden/1")
      throw InputError(g.path + ": unknown format " + j.at("format").dump() + " (this runner reads lazydit-golden/1)");
    g.noise_path = contained_path(bundle, j.at("noise").get<std::string>(), g.path + ": noise", "golden");
    g.classes = j.at("classes").get<std::vector<int>>();
    g.shape = j.at("shape").get<std::vector<int64_t>>();
    g.tolerance = j.at("tolerance").get<double>();
    for (const auto& s : j.at("steps")) {
      GoldenStep step;
      step.variant = s.at("variant").get<std::string>();
      step.reads = s.at("reads").get<std::vector<std::string>>();
      step.writes = s.at("writes").get<std::vector<std::string>>();
      step.latent = parse_checksums(s.at("latent"));
      g.steps.push_back(std::move(step));
    }
    if (j.contains("image_checksums")) {
      g.image = parse_checksums(j.at("image_checksums"));
      const auto shape = j.at("image_shape").get<std::vector<int64_t>>();
      if (!bundle.has_decoder())
        throw InputError(g.path + ": trace records a decoded image but the manifest has no decoder; re-export the bundle");
      if (shape != bundle.tensor("image").shape)
        throw InputError(g.path + ": trace's image_shape differs from the manifest's tensors/image; re-export the bundle");
    }
  } catch (const json::exception& e) {
    throw InputError(g.path + ": malformed golden trace (" + std::string(e.what()) + ")");
  }
  if (g.shape != bundle.tensor("x").shape)
    throw InputError(g.path + ": trace is for a latent of another shape than the manifest's x; re-export the bundle");
  return g;
}

namespace {

// `name` ("latent", "image") prefixes each difference, as runtime/golden.py words them.
void compare_checksums(const std::string& at, const std::string& name, const Checksums& got, const Checksums& ref,
                       double tol, std::vector<std::string>& problems) {
  const std::pair<const char*, std::pair<double, double>> sums[] = {
      {"sum", {got.sum, ref.sum}}, {"abs_sum", {got.abs_sum, ref.abs_sum}}, {"sum_sq", {got.sum_sq, ref.sum_sq}}};
  for (const auto& [key, vals] : sums)
    if (!close(vals.first, vals.second, tol))
      problems.push_back(at + name + " " + key + " " + fmt(vals.first) + " vs " + fmt(vals.second));
  for (size_t k = 0; k < std::min(got.first.size(), ref.first.size()); ++k)
    if (!close(got.first[k], ref.first[k], tol))
      problems.push_back(at + name + "[" + std::to_string(k) + "] " + fmt(got.first[k]) + " vs " + fmt(ref.first[k]));
}

}  // namespace

std::vector<std::string> compare_to_golden(const GoldenTrace& trace, const Bundle& bundle,
                                           const std::vector<Checksums>& latents,
                                           const std::optional<Checksums>& image) {
  std::vector<std::string> problems;
  if (latents.size() != trace.steps.size())
    return {std::to_string(latents.size()) + " steps run, trace has " + std::to_string(trace.steps.size())};
  const double tol = trace.tolerance;
  for (size_t i = 0; i < latents.size(); ++i) {
    const GoldenStep& ref = trace.steps[i];
    const Variant& v = bundle.variants[bundle.steps[i].variant];
    const std::string at = "step " + std::to_string(i) + ": ";
    if (v.name != ref.variant) problems.push_back(at + "variant " + v.name + ", trace says " + ref.variant);
    if (v.reads != ref.reads || v.writes != ref.writes) problems.push_back(at + "slots read/written differ from the trace");
    compare_checksums(at, "latent", latents[i], ref.latent, tol, problems);
  }
  if (image && trace.image) compare_checksums("decoder: ", "image", *image, *trace.image, tol, problems);
  return problems;
}

}  // namespace lazydit
