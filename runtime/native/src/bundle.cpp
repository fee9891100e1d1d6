// Manifest reading and validation. The checks and their messages follow lazydit/runtime/bundle.py so that a
// bundle refused by one runtime is refused, with the same words, by the other; the JSON schema is checked for
// the fields the runner reads rather than in full.
#include "bundle.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "errors.h"
#include "json_file.h"
#include "sha256.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lazydit {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::Int32: return "int32";
  }
  return "?";
}

size_t dtype_size(DType d) { return d == DType::Float16 ? 2 : 4; }

size_t TensorSpec::numel() const {
  size_t n = 1;
  for (auto s : shape) n *= static_cast<size_t>(s);
  return n;
}

size_t Bundle::slot_index(const std::string& slot) const {
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i] == slot) return i;
  throw InputError(manifest_path + ": unknown cache slot " + slot);
}

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": missing or unreadable");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    // nlohmann's message spans "[json.exception.parse_error.101] parse error at line 1, ..."; keep one line.
    // Python's json writes non-finite floats as bare NaN / Infinity, which JSON (and nlohmann) refuse as an
    // invalid literal: say so, since that is the likely cause in a manifest an exporter wrote.
    const std::string what = e.what();
    const bool literal = what.find("invalid literal") != std::string::npos ||
                         what.find("number overflow") != std::string::npos;
    throw InputError(path + ": not valid JSON (" + what + ")" +
                     (literal ? "; NaN and Infinity are not JSON numbers, every number must be finite" : ""));
  }
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// Typed access to the manifest with errors that say where the problem is, like jsonschema's absolute_path.
class Reader {
 public:
  explicit Reader(std::string mpath) : mpath_(std::move(mpath)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw InputError(mpath_ + ": invalid manifest at " + (where.empty() ? "(top level)" : where) + ": " + what);
  }
  [[noreturn]] void inconsistent(const std::string& what) const { throw InputError(mpath_ + ": " + what); }

  const json& field(const json& obj, const std::string& key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, "'" + key + "' is a required property");
    return *it;
  }
  const json& object(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_object()) fail(join(where, key), "expected an object");
    return v;
  }
  const json& array(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_array()) fail(join(where, key), "expected an array");
    return v;
  }
  // The maximum keeps every integer the runner narrows to int (batch, class count, step index) in range.
  int64_t integer(const json& obj, const std::string& key, const std::string& where, int64_t minimum,
                  int64_t maximum = std::numeric_limits<int32_t>::max()) const {
    const json& v = field(obj, key, where);
    if (!v.is_number_integer()) fail(join(where, key), "expected an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(maximum))
      fail(join(where, key), v.dump() + " is more than the maximum of " + std::to_string(maximum));
    const auto x = v.get<int64_t>();
    if (x < minimum) fail(join(where, key), std::to_string(x) + " is less than the minimum of " + std::to_string(minimum));
    if (x > maximum) fail(join(where, key), std::to_string(x) + " is more than the maximum of " + std::to_string(maximum));
    return x;
  }
  // A non-finite coefficient or guidance scale turns every latent into NaN without any error. nlohmann refuses
  // bare NaN / Infinity and literals beyond the double range (1e999) when parsing, so today none gets this
  // far; the check keeps the rule where the numbers are read, whatever the parser lets through.
  double number(const json& v, const std::string& where) const {
    if (!v.is_number()) fail(where, "expected a number");
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(where, std::to_string(x) + " is not a finite number; re-export the bundle");
    return x;
  }
  std::string string(const json& v, const std::string& where) const {
    if (!v.is_string()) fail(where, "expected a string");
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const json& obj, const std::string& key, const std::string& where) const {
    const json& arr = array(obj, key, where);
    std::vector<std::string> out;
    for (size_t i = 0; i < arr.size(); ++i) out.push_back(string(arr[i], join(join(where, key), std::to_string(i))));
    return out;
  }
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

 private:
  std::string mpath_;
};

DType parse_dtype(const Reader& r, const json& v, const std::string& where) {
  const std::string s = r.string(v, where);
  if (s == "float32") return DType::Float32;
  if (s == "float16") return DType::Float16;
  if (s == "int32") return DType::Int32;
  r.fail(where, "'" + s + "' is not one of ['float32', 'float16', 'int32']");
}

bool is_slot_name(const std::string& s) {
  // ^cache_[0-9]+_(attn|mlp)(_delta)?$ without <regex>, which is large and slow to compile on small toolchains.
  const std::string prefix = "cache_";
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0 || i >= s.size() || s[i] != '_') return false;
  const std::string kind = s.substr(i + 1);
  return kind == "attn" || kind == "mlp" || kind == "attn_delta" || kind == "mlp_delta";
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

TensorSpec read_spec(const Reader& r, const json& tensors, const std::string& key) {
  const std::string where = "tensors/" + key;
  const json& t = r.object(tensors, key, "tensors");
  const json& shape = r.array(t, "shape", where);
  if (shape.empty()) r.fail(where + "/shape", "[] should be non-empty");
  TensorSpec spec;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!shape[i].is_number_integer() || shape[i].get<int64_t>() < 1)
      r.fail(where + "/shape/" + std::to_string(i), "expected an integer >= 1");
    spec.shape.push_back(shape[i].get<int64_t>());
  }
  spec.dtype = parse_dtype(r, r.field(t, "dtype", where), where + "/dtype");
  return spec;
}

void read_tensors(const Reader& r, const json& m, Bundle& b) {
  const json& tensors = r.object(m, "tensors", "");
  for (const char* key : {"x", "t", "y", "coef", "x_next", "cache"}) b.tensors[key] = read_spec(r, tensors, key);
}

void check_consistency(const Reader& r, const json& m, Bundle& b) {
  const json& cfg = r.object(r.object(m, "model", ""), "config", "model");
  int64_t c[4];
  const char* keys[4] = {"input_size", "patch_size", "in_channels", "hidden_size"};
  for (int i = 0; i < 4; ++i) c[i] = r.integer(cfg, keys[i], "model/config", 1);
  const int64_t input_size = c[0], patch = c[1], channels = c[2], hidden = c[3];
  const bool guided = b.guidance_scale != 1.0;
  const std::vector<int64_t> want_x = {b.batch, channels, input_size, input_size};
  const std::vector<int64_t> want_cache = {b.batch * (guided ? 2 : 1), (input_size / patch) * (input_size / patch),
                                           hidden};
  const std::vector<std::pair<std::string, std::vector<int64_t>>> checks = {
      {"x", want_x}, {"x_next", want_x}, {"t", {1}}, {"y", {b.batch}}, {"coef", {4}}, {"cache", want_cache}};
  for (const auto& [name, want] : checks) {
    const auto& got = b.tensors[name].shape;
    if (got != want)
      r.inconsistent("tensor " + name + " has shape " + shape_str(got) + ", the model config needs " + shape_str(want));
  }
  // What this runner feeds the graphs: t as float32, y as int32, the latent and caches as float32 or float16.
  if (b.tensors["t"].dtype != DType::Float32) r.inconsistent("tensor t must be float32");
  if (b.tensors["y"].dtype != DType::Int32) r.inconsistent("tensor y must be int32");
  for (const char* k : {"x", "x_next", "cache", "coef"})
    if (b.tensors[k].dtype == DType::Int32) r.inconsistent(std::string("tensor ") + k + " must be float32 or float16");
  if (b.tensors["x_next"].dtype != b.tensors["x"].dtype) r.inconsistent("tensors x and x_next must share a dtype");
}

void read_variants(const Reader& r, const json& m, Bundle& b) {
  const json& targets = r.object(m, "targets", "");
  if (!targets.contains("executorch"))
    throw InputError(b.root + ": bundle has no executorch graphs; export it with --targets including executorch");
  const json& et = r.object(targets, "executorch", "targets");
  const std::string file = r.string(r.field(et, "file", "targets/executorch"), "targets/executorch/file");
  b.program_file = file;
  b.program_path = (fs::path(b.root) / file).string();
  r.object(et, "methods", "targets/executorch");  // read after the steps, for the variants they name

  const std::set<std::string> slots(b.slots.begin(), b.slots.end());
  const json& variants = r.array(m, "variants", "");
  if (variants.empty()) r.fail("variants", "[] should be non-empty");
  for (size_t i = 0; i < variants.size(); ++i) {
    const std::string where = "variants/" + std::to_string(i);
    Variant v;
    v.name = r.string(r.field(variants[i], "name", where), where + "/name");
    const auto inputs = r.strings(variants[i], "inputs", where);
    const auto outputs = r.strings(variants[i], "outputs", where);
    v.reads = r.strings(variants[i], "reads", where);
    v.writes = r.strings(variants[i], "writes", where);
    for (const auto* list : {&v.reads, &v.writes})
      for (const auto& s : *list)
        if (!slots.count(s)) r.inconsistent("variant " + v.name + " uses undeclared cache slot " + s);
    if (variants[i].contains("ratio_slots")) {
      if (b.schema_version < 2)
        r.inconsistent("variant " + v.name + " has ratio_slots, which need schema_version 2");
      v.ratio_slots = r.strings(variants[i], "ratio_slots", where);
      if (v.ratio_slots.empty()) r.fail(where + "/ratio_slots", "[] should be non-empty");
      for (const auto& s : v.ratio_slots) {
        const bool delta = s.size() > 6 && s.compare(s.size() - 6, 6, "_delta") == 0;
        if (!delta || std::find(v.reads.begin(), v.reads.end(), s) == v.reads.end())
          r.inconsistent("variant " + v.name + " ratio slot " + s + " is not a delta slot it reads");
      }
    }
    const bool fed = !v.ratio_slots.empty();
    std::vector<std::string> want_inputs = {"x", "t", "y", "coef"};
    if (fed) want_inputs.push_back("ratio");
    want_inputs.insert(want_inputs.end(), v.reads.begin(), v.reads.end());
    if (inputs != want_inputs)
      r.inconsistent("variant " + v.name + " inputs must be x, t, y, coef, " + (fed ? "ratio, " : "") + "then its reads");
    if (outputs.size() != 1 + v.writes.size())
      r.inconsistent("variant " + v.name + " must output x_next and one tensor per written slot");
    for (const auto& other : b.variants)
      if (other.name == v.name) r.inconsistent("variant " + v.name + " is listed twice");
    // Schema 1's forecast table is the exporter's record of the ratios a graph bakes in; the runner does not use
    // it, but a non-finite one means the graph extrapolates with it too. Schema 2 feeds them per step instead.
    auto fit = variants[i].find("forecast");
    if (fit != variants[i].end()) {
      if (b.schema_version >= 2)
        r.inconsistent("variant " + v.name + " has a schema-1 forecast table; schema 2 feeds ratios per step "
                       "(ratio_slots); re-export the bundle");
      if (!fit->is_object()) r.fail(where + "/forecast", "expected an object");
      for (const auto& [key, ratio] : fit->items()) r.number(ratio, where + "/forecast/" + key);
    }
    b.variants.push_back(std::move(v));
  }
}

void read_steps(const Reader& r, const json& m, Bundle& b) {
  const json& steps = r.array(m, "steps", "");
  if (steps.empty()) r.fail("steps", "[] should be non-empty");
  std::set<std::string> written;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string where = "steps/" + std::to_string(i);
    Step s;
    s.index = static_cast<int>(r.integer(steps[i], "index", where, 0));
    s.timestep = static_cast<double>(r.integer(steps[i], "timestep", where, 0));
    const std::string variant = r.string(r.field(steps[i], "variant", where), where + "/variant");
    const json& coef = r.array(steps[i], "coef", where);
    if (coef.size() != 4) r.fail(where + "/coef", "expected exactly 4 numbers");
    for (size_t k = 0; k < 4; ++k) s.coef[k] = r.number(coef[k], where + "/coef/" + std::to_string(k));
    const auto reads = r.strings(steps[i], "reads", where);
    const auto writes = r.strings(steps[i], "writes", where);
    size_t vi = b.variants.size();
    for (size_t k = 0; k < b.variants.size(); ++k)
      if (b.variants[k].name == variant) vi = k;
    if (vi == b.variants.size()) r.inconsistent("step " + std::to_string(s.index) + " uses unknown variant " + variant);
    const Variant& v = b.variants[vi];
    if (reads != v.reads || writes != v.writes)
      r.inconsistent("step " + std::to_string(s.index) + " slots disagree with variant " + v.name);
    const std::string step_name = "step " + std::to_string(s.index);
    if (steps[i].contains("ratio")) {
      const json& ratio = r.array(steps[i], "ratio", where);
      for (size_t k = 0; k < ratio.size(); ++k)
        s.ratio.push_back(r.number(ratio[k], where + "/ratio/" + std::to_string(k)));
    }
    if (s.ratio.size() != v.ratio_slots.size() || steps[i].contains("ratio") != !v.ratio_slots.empty())
      r.inconsistent(step_name + " has " + std::to_string(s.ratio.size()) + " forecast ratios, variant " + v.name +
                     " takes " + std::to_string(v.ratio_slots.size()) + "; re-export the bundle");
    // A module that writes a delta reads its old output: the first time, the slot's initial zeros.
    std::set<std::string> olds;
    for (const auto& w : writes)
      if (w.size() > 6 && w.compare(w.size() - 6, 6, "_delta") == 0) olds.insert(w.substr(0, w.size() - 6));
    for (const auto& slot : reads)
      if (!written.count(slot) && !olds.count(slot))
        r.inconsistent(step_name + " reads " + slot + " before any step writes it");
    written.insert(writes.begin(), writes.end());
    s.variant = vi;
    b.steps.push_back(s);
  }
  for (size_t i = 0; i < b.steps.size(); ++i)
    if (b.steps[i].index != static_cast<int>(i)) r.inconsistent("steps must be listed in order 0..N-1");
}

// The ExecuTorch method of every variant, as every port requires (docs/bundle-format.md), whether or not a step
// names it: a variant without one is an export that went wrong. Read after the steps so that a step naming an
// unknown variant is reported as that first.
void read_methods(const Reader& r, const json& m, Bundle& b) {
  const json& methods = m.at("targets").at("executorch").at("methods");
  for (Variant& v : b.variants) {
    auto it = methods.find(v.name);
    if (it == methods.end())
      r.inconsistent("variant " + v.name + " has no executorch method (targets/executorch/methods/" + v.name +
                     "); re-export the bundle with --targets executorch");
    v.method = r.string(*it, "targets/executorch/methods/" + v.name);
  }
}

// A latent model's decoder (docs/bundle-format.md, "decoder"): the section's fixed inputs and outputs, a decoder
// graph in every target (the words of runtime/bundle.py), the ExecuTorch method's name and tensors.image, which
// must be an image batch of the latent's batch size in a floating dtype.
void read_decoder(const Reader& r, const json& m, Bundle& b) {
  auto it = m.find("decoder");
  if (it == m.end()) return;
  const json& dec = *it;
  if (!dec.is_object()) r.fail("decoder", "expected an object");
  r.string(r.field(dec, "name", "decoder"), "decoder/name");
  if (r.strings(dec, "inputs", "decoder") != std::vector<std::string>{"latent"})
    r.fail("decoder/inputs", "['latent'] was expected");
  if (r.strings(dec, "outputs", "decoder") != std::vector<std::string>{"image"})
    r.fail("decoder/outputs", "['image'] was expected");
  if (dec.contains("latent_scale")) r.number(dec["latent_scale"], "decoder/latent_scale");
  for (const auto& [target, t] : m.at("targets").items())
    if (!t.is_object() || !t.contains("decoder"))
      r.inconsistent("the bundle has a decoder but its " + target + " target has no decoder graph");
  b.decoder_method = r.string(m.at("targets").at("executorch").at("decoder"), "targets/executorch/decoder");
  if (b.decoder_method.empty()) r.fail("targets/executorch/decoder", "expected a method name");
  const json& tensors = m.at("tensors");
  if (!tensors.contains("image"))
    r.inconsistent("the bundle has a decoder but no tensors/image (the decoded image's shape); re-export the bundle");
  const TensorSpec image = read_spec(r, tensors, "image");
  if (image.shape.size() != 4 || image.shape[0] != b.batch)
    r.inconsistent("tensor image has shape " + shape_str(image.shape) + ", a decoder needs [" +
                   std::to_string(b.batch) + ", channels, height, width]");
  if (image.dtype == DType::Int32) r.inconsistent("tensor image must be float32 or float16");
  b.tensors["image"] = image;
}

// Every path the manifest names, in the order a reader meets them, before any of them is opened: the files
// list, the schedule's file and heatmap, and each target's graph files. A value of the wrong type is left to
// the field checks after this one, which open nothing either.
void check_containment(const json& m, const Bundle& b) {
  std::vector<std::pair<std::string, std::string>> named;  // (where, path)
  auto files = m.find("files");
  if (files != m.end() && files->is_object())
    for (const auto& [rel, meta] : files->items()) named.emplace_back("files key", rel);
  auto schedule = m.find("schedule");
  if (schedule != m.end() && schedule->is_object())
    for (const char* key : {"file", "heatmap"}) {
      auto it = schedule->find(key);
      if (it != schedule->end() && it->is_string()) named.emplace_back(std::string("schedule/") + key, it->get<std::string>());
    }
  auto targets = m.find("targets");
  if (targets != m.end() && targets->is_object())
    for (const auto& [name, t] : targets->items()) {
      if (!t.is_object()) continue;
      for (const char* key : {"file", "weights", "package", "decoder"}) {
        auto it = t.find(key);
        if (it != t.end() && it->is_string())
          named.emplace_back("targets/" + name + "/" + key, it->get<std::string>());
      }
      auto graphs = t.find("graphs");
      if (graphs != t.end() && graphs->is_object())
        for (const auto& [g, rel] : graphs->items())
          if (rel.is_string()) named.emplace_back("targets/" + name + "/graphs/" + g, rel.get<std::string>());
    }
  for (const auto& [where, rel] : named) contained_path(b, rel, b.manifest_path + ": " + where);
}

void check_files(const Reader& r, const json& m, const Bundle& b, bool verify_checksums) {
  const json& files = r.object(m, "files", "");
  for (const auto& [rel, meta] : files.items()) {
    const std::string where = "files/" + rel;
    if (!meta.is_object()) r.fail(where, "expected an object");
    const std::string sha = r.string(r.field(meta, "sha256", where), where + "/sha256");
    if (!is_hex64(sha)) r.fail(where + "/sha256", "expected 64 lowercase hex digits");
    // A DiT-XL/2 program is 2.7 GB: byte counts are not narrowed to int, so no 32-bit maximum applies.
    const int64_t bytes = r.integer(meta, "bytes", where, 0, std::numeric_limits<int64_t>::max());
    const std::string p = (fs::path(b.root) / rel).string();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      throw InputError(p + ": listed in the manifest but missing; re-export or re-copy the bundle");
    const auto size = fs::file_size(p, ec);
    if (ec || static_cast<int64_t>(size) != bytes)
      throw InputError(p + ": has " + std::to_string(size) + " bytes, the manifest says " + std::to_string(bytes) +
                       "; the bundle is damaged");
    if (verify_checksums && sha256_file(p) != sha)
      throw InputError(p + ": sha256 does not match the manifest; the bundle is damaged, re-export or re-copy it");
  }
  if (!files.contains(b.program_file))
    throw InputError(b.program_path + ": executorch graph missing from the manifest's file list");
}

// Why `rel` breaks the lexical half of the containment rule, or empty when it does not.
std::string lexical_problem(const std::string& rel) {
  if (rel.empty()) return "is empty";
  if (rel.find('\0') != std::string::npos) return "contains a NUL character";
  if (rel[0] == '/') return "is absolute";
  // A drive letter or a backslash means a path written on Windows (or one meant to read as such elsewhere):
  // refused on every platform, so that a bundle means the same on each.
  if (rel.size() >= 2 && rel[1] == ':' && std::isalpha(static_cast<unsigned char>(rel[0]))) return "has a drive letter";
  if (rel.find('\\') != std::string::npos) return "contains a backslash (write it with '/')";
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= rel.size(); ++i)
    if (i == rel.size() || rel[i] == '/') {
      parts.push_back(rel.substr(start, i - start));
      start = i + 1;
    }
  for (const auto& p : parts)
    if (p == "..") return "has a '..' component";
  for (const auto& p : parts)
    if (p.empty() || p == ".") return "is not normalised (an empty or '.' component)";
  return "";
}

// Component-wise, so that /b/bundle-old is not taken to lie inside /b/bundle.
bool is_under(const fs::path& p, const fs::path& root) {
  auto q = p.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++q)
    if (q == p.end() || *q != *r) return false;
  return true;
}

}  // namespace

std::string contained_path(const Bundle& b, const std::string& rel, const std::string& where,
                           const std::string& base) {
  auto refuse = [&](const std::string& why) {
    // one_line: the name came from the file and may hold a NUL or line breaks that would cut or split the line.
    throw InputError(where + " '" + one_line(rel) + "' " + why + "; a bundle's paths must stay inside the bundle");
  };
  const std::string problem = lexical_problem(rel);
  if (!problem.empty()) refuse(problem);
  const fs::path joined = base.empty() ? fs::path(rel) : fs::path(base) / rel;
  // weakly_canonical follows every symlink of the part that exists and keeps the rest as written (which has no
  // '..' left to climb with), so a missing file passes here and is reported as missing by the file check.
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(fs::path(b.real_root) / joined, ec);
  if (ec) refuse("cannot be resolved (" + ec.message() + ")");
  if (!is_under(resolved, fs::path(b.real_root)))
    refuse("resolves through a symlink to " + resolved.string() + ", outside the bundle folder");
  return (fs::path(b.root) / joined).string();
}

Bundle load_bundle(const std::string& root, bool verify_checksums) {
  Bundle b;
  b.root = root;
  b.manifest_path = (fs::path(root) / "manifest.json").string();
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw InputError("bundle folder not found: " + root + "; export one with `lazydit export`");
  if (!fs::is_regular_file(b.manifest_path, ec))
    throw InputError(b.manifest_path + ": missing; this folder is not a lazydit bundle");
  // The bundle folder itself may be a symlink (a bundle kept elsewhere and linked in); what its paths must stay
  // inside is the folder it resolves to.
  const fs::path real = fs::canonical(root, ec);
  if (ec) throw InputError(root + ": cannot resolve the bundle folder (" + ec.message() + ")");
  b.real_root = real.string();
  // manifest.json is a name the runner supplies, not one the manifest names, but a symlink there would still
  // make the runner read a file from outside the bundle.
  contained_path(b, "manifest.json", root + ": the manifest");
  const json m = read_json_file(b.manifest_path);
  Reader r(b.manifest_path);

  const json version = m.is_object() && m.contains("schema_version") ? m["schema_version"] : json();
  if (!(version.is_number_integer() && (version.get<int64_t>() == 1 || version.get<int64_t>() == 2)))
    throw InputError(b.manifest_path + ": unknown schema_version " + version.dump() +
                     " (this runtime reads 1, 2); upgrade lazydit or re-export the bundle");
  b.schema_version = static_cast<int>(version.get<int64_t>());
  if (r.string(r.field(m, "format", ""), "format") != "lazydit-bundle")
    r.fail("format", "'lazydit-bundle' was expected");
  check_containment(m, b);

  b.batch = static_cast<int>(r.integer(m, "batch", "", 1));
  b.guidance_scale = r.number(r.field(m, "guidance_scale", ""), "guidance_scale");
  b.num_classes = static_cast<int>(r.integer(r.object(m, "classes", ""), "count", "classes", 1));
  if (m.contains("name") && m["name"].is_string()) b.name = m["name"].get<std::string>();
  const json& model = r.object(m, "model", "");
  if (model.contains("fingerprint") && model["fingerprint"].is_string())
    b.fingerprint = model["fingerprint"].get<std::string>();

  b.slots = r.strings(m, "slots", "");
  for (size_t i = 0; i < b.slots.size(); ++i)
    if (!is_slot_name(b.slots[i])) r.fail("slots/" + std::to_string(i), "'" + b.slots[i] + "' is not a cache slot name");
  if (std::set<std::string>(b.slots.begin(), b.slots.end()).size() != b.slots.size())
    r.fail("slots", "has non-unique elements");

  read_tensors(r, m, b);
  check_consistency(r, m, b);
  read_variants(r, m, b);
  read_steps(r, m, b);
  read_methods(r, m, b);
  read_decoder(r, m, b);
  check_files(r, m, b, verify_checksums);
  return b;
}

}  // namespace lazydit
