// The files are little-endian by contract; every target this runner builds for (x86-64, arm64 Android) is
// little-endian, so bytes are copied as they are, and a big-endian build fails at compile time instead.
#include "tensor_io.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <executorch/runtime/core/portable_type/half.h>

#include "errors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lazydit_runner reads little-endian tensor files and needs a little-endian target"
#endif

namespace lazydit {

std::vector<float> read_f32_file(const std::string& path, size_t numel) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(path + ": noise file not found");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size != numel * sizeof(float))
    throw InputError(path + ": has " + std::to_string(size) + " bytes, the latent needs " +
                     std::to_string(numel * sizeof(float)) + " (" + std::to_string(numel) +
                     " little-endian float32 values)");
  std::vector<float> out(numel);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size)))
    throw InputError(path + ": read error");
  return out;
}

void write_f32_file(const std::string& path, const float* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float))))
    throw InputError(path + ": cannot be written; check the folder exists and is writable");
}

void store_floats(DType dtype, const float* src, size_t n, void* dst) {
  if (dtype == DType::Float16) {
    auto* h = static_cast<executorch::runtime::etensor::Half*>(dst);
    for (size_t i = 0; i < n; ++i) h[i] = executorch::runtime::etensor::Half(src[i]);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}

void load_floats(DType dtype, const void* src, size_t n, float* dst) {
  if (dtype == DType::Float16) {
    const auto* h = static_cast<const executorch::runtime::etensor::Half*>(src);
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(h[i]);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}

}  // namespace lazydit
