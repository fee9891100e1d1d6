// Raw tensor files (little-endian float32 in C order, the golden/noise.bin format) and dtype conversion.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bundle.h"

namespace lazydit {

// Reads exactly `numel` float32 values; throws InputError naming the file when its size does not match.
std::vector<float> read_f32_file(const std::string& path, size_t numel);

// Writes `n` float32 values; throws InputError naming the file when it cannot be written.
void write_f32_file(const std::string& path, const float* data, size_t n);

// Converts float32 values into a buffer of the given floating dtype (float32 or float16).
void store_floats(DType dtype, const float* src, size_t n, void* dst);

// Converts a buffer of the given floating dtype into float32 values.
void load_floats(DType dtype, const void* src, size_t n, float* dst);

}  // namespace lazydit
