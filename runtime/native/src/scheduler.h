// The step scheduler, as in lazydit/runtime/scheduler.py: for each step run the step's variant on the latent,
// timestep, labels, coefficients and the cache slots it reads, then keep the slots it writes; for a latent
// model, run the decoder on the last step's latent.
//
// Every buffer is allocated once, here, and reused by every run: the cache slots (outputs are copied into them
// in place), two latent buffers that the steps ping-pong between, and per-step timestep/coefficient tensors.
// The per-step input lists (and the decoder's, which reads the buffer the last step writes) are built once as
// well, so a step only executes and copies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <executorch/extension/tensor/tensor.h>

#include "bundle.h"
#include "golden.h"
#include "program.h"

namespace lazydit {

struct RunResult {
  std::vector<double> step_ms;     // execute + copy of the outputs, per step
  double decode_ms = 0;            // the decoder's execute + copy; 0 without a decoder
  double total_ms = 0;             // the whole run (steps and decoder), without the checksum bookkeeping
  std::vector<Checksums> latents;  // after each step, when asked for
  std::optional<Checksums> image;  // the decoded image, when asked for and the bundle has a decoder
};

class Scheduler {
 public:
  Scheduler(const Bundle& bundle, Program& program);

  // One generation from `noise` (float32, the latent's element count) for labels `classes` (batch of them).
  RunResult run(const std::vector<float>& noise, const std::vector<int32_t>& classes, bool record_latents);

  // The latent after the last run, as float32.
  std::vector<float> latent() const;

  // The image of the last run, as float32: the decoded image with a decoder, else the latent.
  std::vector<float> image() const;

 private:
  // Zero-initialised, 64-byte aligned, with slack after the end because XNNPACK may read a few bytes past the
  // last element of a tensor it is handed directly.
  struct Buffer {
    Buffer() = default;
    Buffer(Buffer&&) = default;  // moving keeps the heap block, so data and tensor stay valid
    Buffer& operator=(Buffer&&) = default;
    Buffer(const Buffer&) = delete;
    std::vector<uint8_t> storage;
    void* data = nullptr;
    size_t nbytes = 0;
    executorch::extension::TensorPtr tensor;
  };
  static Buffer make_buffer(const TensorSpec& spec);
  // `step` names the graph in messages; kDecoder for the decoder. The name is built only on an error, so that a
  // step allocates nothing.
  static constexpr size_t kDecoder = static_cast<size_t>(-1);
  void copy_output(const executorch::runtime::EValue& out, Buffer& dst, const char* what, size_t step) const;

  const Bundle& bundle_;
  Program& program_;
  Buffer x_[2];
  Buffer y_;
  std::vector<Buffer> t_, coef_, ratio_;  // one per step (ratio_: empty Buffers for steps without one)
  std::vector<Buffer> slots_;     // in manifest slot order
  std::vector<size_t> zero_at_start_;  // slots read before any step writes them: zeroed at every run's start
  std::vector<std::vector<executorch::runtime::EValue>> inputs_;  // per step
  std::vector<std::vector<size_t>> writes_;                       // per step: slot index of each extra output
  std::vector<float> scratch_;                                    // float32 view of the latent for checksums
  Buffer image_;                                                  // the decoder's output (with a decoder)
  std::vector<executorch::runtime::EValue> decode_inputs_;        // the buffer the last step writes
  std::vector<float> image_scratch_;                              // float32 view of the image for checksums
  size_t final_ = 0;                                              // which x_ holds the last run's latent
};

}  // namespace lazydit
