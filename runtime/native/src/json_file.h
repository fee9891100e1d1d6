// Reading JSON files (manifest.json, golden/trace.json) with one-line errors that name the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace lazydit {

// Parses a JSON file, throwing InputError naming the file when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

}  // namespace lazydit
