// Error kinds of the runner; each maps to one exit code and is printed as one line on stderr.
#pragma once

#include <stdexcept>
#include <string>

namespace lazydit {

// Exit codes, documented in docs/native-runner.md.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;   // ExecuTorch failed while running, or this build cannot run the program
constexpr int kExitInput = 2;     // bad arguments, bundle (a program that cannot load included), noise file: nothing run
constexpr int kExitGolden = 3;    // ran, but the latents disagree with golden/trace.json

// `s` as one printable line: line breaks become spaces, and control bytes and bytes that are not UTF-8 become
// \xNN, because messages quote names read from untrusted files (a garbage program's identifier, a path).
inline std::string one_line(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
      ++i;
      continue;
    }
    // Length of a well-formed UTF-8 sequence starting here (overlong forms and surrogates are not excluded:
    // they print, which is all that matters here); 0 when the byte cannot start one.
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    for (size_t k = 1; n && k < n; ++k)
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) n = 0;
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      ++i;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

// A problem with the command line or the files it names; the message starts with the file it is about.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ExecuTorch reported an error while loading or executing.
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lazydit
