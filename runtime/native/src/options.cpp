#include "options.h"

#include <cstdlib>
#include <sstream>

#include "errors.h"

namespace lazydit {
namespace {

int parse_int(const std::string& flag, const std::string& text, int minimum) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < minimum || v > 1000000)
    throw InputError("lazydit_runner: " + flag + " needs an integer >= " + std::to_string(minimum) + ", got '" + text +
                     "'");
  return static_cast<int>(v);
}

std::vector<int> parse_classes(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_int("--classes", item, 0));
  if (out.empty()) throw InputError("lazydit_runner: --classes needs comma-separated labels, e.g. --classes 0,1");
  return out;
}

}  // namespace

const char* usage_text() {
  return "usage: lazydit_runner --bundle DIR [--noise FILE] [--classes 0,1,...] [--warmup N] [--repeat N]\n"
         "                      [--threads N] [--out-latent FILE] [--out-image FILE] [--report FILE] [--golden]\n"
         "                      [--no-weight-cache] [--load-mode mmap|file] [--verbose]\n"
         "Runs a lazydit bundle's ExecuTorch graphs with the step scheduler and times them.\n"
         "  --bundle DIR        bundle folder (reads DIR/manifest.json; validated before anything runs)\n"
         "  --noise FILE        initial latent, little-endian float32 (default DIR/golden/noise.bin)\n"
         "  --classes LIST      class label per image (default: the golden trace's, else 0..batch-1)\n"
         "  --warmup N          untimed runs first (default 1)\n"
         "  --repeat N          timed runs (default 5)\n"
         "  --threads N         CPU threads for XNNPACK and the kernels (default: ExecuTorch's choice)\n"
         "  --out-latent FILE   write the final latent (before a latent model's decoder) as little-endian float32\n"
         "  --out-image FILE    write the image as little-endian float32: decoded by the bundle's decoder if it\n"
         "                      has one, else the final latent\n"
         "  --report FILE       write the JSON timing report\n"
         "  --golden            check every step (and the decoded image) against DIR/golden/trace.json;\n"
         "                      exit 3 on a mismatch\n"
         "  --no-weight-cache   disable XNNPACK's shared weight cache (to measure what it saves)\n"
         "  --load-mode MODE    mmap (default) or file: how the .pte is read\n"
         "  --verbose           print ExecuTorch's log lines as they come (default: only its errors)\n"
         "Exit codes: 0 ok, 1 ExecuTorch error, 2 bad arguments or bundle (nothing run), 3 golden mismatch.\n";
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) throw InputError(std::string("lazydit_runner: ") + flag + " needs a value; see --help");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") o.help = true;
    else if (a == "--bundle") o.bundle = value("--bundle");
    else if (a == "--noise") o.noise = value("--noise");
    else if (a == "--classes") o.classes = parse_classes(value("--classes"));
    else if (a == "--warmup") o.warmup = parse_int(a, value("--warmup"), 0);
    else if (a == "--repeat") o.repeat = parse_int(a, value("--repeat"), 1);
    else if (a == "--threads") o.threads = parse_int(a, value("--threads"), 0);
    else if (a == "--out-latent") o.out_latent = value("--out-latent");
    else if (a == "--out-image") o.out_image = value("--out-image");
    else if (a == "--report") o.report = value("--report");
    else if (a == "--golden") o.golden = true;
    else if (a == "--no-weight-cache") o.weight_cache = false;
    else if (a == "--verbose") o.verbose = true;
    else if (a == "--load-mode") {
      const std::string m = value("--load-mode");
      if (m != "mmap" && m != "file")
        throw InputError("lazydit_runner: --load-mode must be mmap or file, got '" + m + "'");
      o.mmap = m == "mmap";
    } else {
      throw InputError("lazydit_runner: unknown argument '" + a + "'; see --help");
    }
  }
  if (!o.help && o.bundle.empty()) throw InputError("lazydit_runner: --bundle DIR is required; see --help");
  return o;
}

}  // namespace lazydit
