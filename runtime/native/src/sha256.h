// SHA-256 of a file as lowercase hex: OpenSSL's EVP when the build found it, else a built-in implementation
// (configure with -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON to force the built-in one).
#pragma once

#include <string>

namespace lazydit {

// Hex digest of the file's bytes; throws InputError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

// "OpenSSL" or "built-in", for the report.
const char* sha256_implementation();

}  // namespace lazydit
