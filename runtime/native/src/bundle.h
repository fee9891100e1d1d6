// The bundle as the runner sees it: manifest.json read and checked (schema subset, consistency, file sizes and
// sha256) before anything runs, mirroring lazydit/runtime/bundle.py.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lazydit {

enum class DType { Float32, Float16, Int32 };

const char* dtype_name(DType d);
size_t dtype_size(DType d);

struct TensorSpec {
  std::vector<int64_t> shape;
  DType dtype = DType::Float32;
  size_t numel() const;
  size_t nbytes() const { return numel() * dtype_size(dtype); }
};

struct Variant {
  std::string name;
  std::string method;  // ExecuTorch method name (targets.executorch.methods)
  std::vector<std::string> reads;
  std::vector<std::string> writes;
  // Schema 2: the delta slot each element of the `ratio` input scales; empty for a variant without that input.
  std::vector<std::string> ratio_slots;
};

struct Step {
  int index = 0;
  double timestep = 0;
  size_t variant = 0;  // index into Bundle::variants
  std::array<double, 4> coef{};
  std::vector<double> ratio;  // schema 2: the forecast ratios fed to the variant's `ratio` input
};

struct Bundle {
  int schema_version = 2;
  std::string root;       // as given (may be a symlink to the bundle folder)
  std::string real_root;  // root with every symlink resolved: what a contained path must stay under
  std::string manifest_path;
  std::string program_file;  // the .pte relative to root (targets.executorch.file)
  std::string program_path;  // root joined with program_file
  int batch = 1;
  int num_classes = 1;
  double guidance_scale = 1.0;
  std::map<std::string, TensorSpec> tensors;  // x, t, y, coef, x_next, cache; image with a decoder
  std::vector<std::string> slots;
  std::vector<Variant> variants;
  std::vector<Step> steps;
  // A latent model's decoder: the ExecuTorch method (targets.executorch.decoder) that turns the last step's
  // x_next into tensors.image. Empty for a pixel-space model, whose last latent is the image.
  std::string decoder_method;
  std::string name;         // manifest "name", may be empty
  std::string fingerprint;  // model.fingerprint

  const TensorSpec& tensor(const std::string& key) const { return tensors.at(key); }
  bool has_decoder() const { return !decoder_method.empty(); }
  // What a run produces for the user: the decoded image with a decoder, else the final latent.
  const TensorSpec& image() const { return tensor(has_decoder() ? "image" : "x_next"); }
  size_t slot_index(const std::string& slot) const;
};

// A path the bundle names (a manifest entry, the golden trace's noise file), relative to `base` (a folder inside
// the bundle, root when empty), joined to the bundle's root once it passes the containment rule: relative,
// normalised (no empty, '.' or '..' component, no drive letter or backslash), and resolving, symlinks followed, inside real_root. Throws
// InputError naming `where` and ending "a bundle's paths must stay inside the bundle". Opens nothing.
std::string contained_path(const Bundle& b, const std::string& rel, const std::string& where,
                           const std::string& base = "");

// Reads root/manifest.json and checks everything the runner relies on; throws InputError (one line naming the
// file) on the first problem. With verify_checksums false the sha256 check is skipped (sizes are still checked).
Bundle load_bundle(const std::string& root, bool verify_checksums = true);

}  // namespace lazydit
