// The bundle's ExecuTorch program: one .pte, one method per graph variant, loaded once through
// executorch::extension::Module and checked against the manifest before any step runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>

#include "bundle.h"

namespace lazydit {

struct ProgramOptions {
  int threads = 0;            // 0: ExecuTorch's default (one per performance core)
  bool weight_cache = true;   // XNNPACK weight cache: packed weights shared by every method that uses them
  bool mmap = true;           // map the .pte instead of reading it into memory
};

class Program {
 public:
  // Sizes the thread pool, opens and verifies the program and checks every variant's method, and the
  // decoder's when the bundle has one (present, inputs and outputs as the manifest says), against the
  // manifest: InputError naming the .pte and the variant or decoder on a mismatch or an unreadable file.
  // Methods are not loaded yet.
  Program(const Bundle& bundle, const ProgramOptions& options);

  // Loads (initialises) one variant's method; the XNNPACK delegate packs its weights here. Returns
  // milliseconds. A method the file cannot give is InputError (exit 2); one this build or machine cannot run
  // (missing operator, out of memory) is RuntimeFailure (exit 1).
  double load_method(const Variant& variant);
  // Loads the decoder's method (Bundle::decoder_method), with the same errors.
  double load_decoder(const Bundle& bundle);

  // Runs a loaded method; outputs reference memory owned by the method until its next execution.
  std::vector<executorch::runtime::EValue> execute(const std::string& method,
                                                   const std::vector<executorch::runtime::EValue>& inputs);

  double program_load_ms() const { return program_load_ms_; }
  int thread_count() const { return thread_count_; }

 private:
  void check_against(const Bundle& bundle);
  // `what` names the graph in messages ("variant v1", "decoder").
  void check_method(const std::string& what, const std::string& method, const std::vector<const TensorSpec*>& inputs,
                    const std::vector<const TensorSpec*>& outputs);
  double load(const std::string& what, const std::string& method);

  std::string path_;
  std::unique_ptr<executorch::extension::Module> module_;
  double program_load_ms_ = 0;
  int thread_count_ = 0;
};

}  // namespace lazydit
