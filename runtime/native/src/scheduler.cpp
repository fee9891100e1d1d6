#include "scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <string>

#include "errors.h"
#include "tensor_io.h"

using executorch::runtime::EValue;

namespace lazydit {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

executorch::aten::ScalarType scalar_type(DType d) {
  switch (d) {
    case DType::Float32: return executorch::aten::ScalarType::Float;
    case DType::Float16: return executorch::aten::ScalarType::Half;
    case DType::Int32: return executorch::aten::ScalarType::Int;
  }
  return executorch::aten::ScalarType::Float;
}

constexpr size_t kAlign = 64;
constexpr size_t kSlack = 64;

}  // namespace

Scheduler::Buffer Scheduler::make_buffer(const TensorSpec& spec) {
  Buffer b;
  b.nbytes = spec.nbytes();
  b.storage.assign(b.nbytes + kAlign + kSlack, 0);
  const auto addr = reinterpret_cast<uintptr_t>(b.storage.data());
  b.data = b.storage.data() + ((kAlign - addr % kAlign) % kAlign);
  std::vector<executorch::aten::SizesType> sizes(spec.shape.begin(), spec.shape.end());
  b.tensor = executorch::extension::from_blob(b.data, std::move(sizes), scalar_type(spec.dtype));
  return b;
}

Scheduler::Scheduler(const Bundle& bundle, Program& program) : bundle_(bundle), program_(program) {
  const TensorSpec& x = bundle.tensor("x");
  x_[0] = make_buffer(x);
  x_[1] = make_buffer(x);
  y_ = make_buffer(bundle.tensor("y"));
  for (size_t i = 0; i < bundle.slots.size(); ++i) slots_.push_back(make_buffer(bundle.tensor("cache")));
  scratch_.resize(x.numel());

  const TensorSpec& coef_spec = bundle.tensor("coef");
  for (size_t i = 0; i < bundle.steps.size(); ++i) {
    const Step& step = bundle.steps[i];
    Buffer t = make_buffer(bundle.tensor("t"));
    const float timestep = static_cast<float>(step.timestep);
    std::memcpy(t.data, &timestep, sizeof timestep);
    Buffer coef = make_buffer(coef_spec);
    const float c[4] = {float(step.coef[0]), float(step.coef[1]), float(step.coef[2]), float(step.coef[3])};
    store_floats(coef_spec.dtype, c, 4, coef.data);

    const Variant& v = bundle.variants[step.variant];
    // Step i reads the latent from x_[i % 2] and its output lands in the other buffer.
    std::vector<EValue> in = {EValue(*x_[i % 2].tensor), EValue(*t.tensor), EValue(*y_.tensor), EValue(*coef.tensor)};
    Buffer ratio;
    if (!v.ratio_slots.empty()) {
      // Schema 2 forecasting: the step's ratios, in coef's dtype, ahead of the slots.
      ratio = make_buffer(TensorSpec{{static_cast<int64_t>(step.ratio.size())}, coef_spec.dtype});
      std::vector<float> r(step.ratio.begin(), step.ratio.end());
      store_floats(coef_spec.dtype, r.data(), r.size(), ratio.data);
      in.emplace_back(*ratio.tensor);
    }
    for (const auto& slot : v.reads) in.emplace_back(*slots_[bundle.slot_index(slot)].tensor);
    std::vector<size_t> writes;
    for (const auto& slot : v.writes) writes.push_back(bundle.slot_index(slot));
    inputs_.push_back(std::move(in));
    writes_.push_back(std::move(writes));
    t_.push_back(std::move(t));
    coef_.push_back(std::move(coef));
    ratio_.push_back(std::move(ratio));
  }
  // The slots a step reads before any step wrote them (a forecasting full step's old outputs, whose first delta
  // the next skip multiplies by 0) are zeroed at the start of every run: every run then feeds what the golden
  // run fed.
  std::set<std::string> written;
  for (const Step& step : bundle.steps) {
    const Variant& v = bundle.variants[step.variant];
    for (const auto& slot : v.reads)
      if (!written.count(slot)) {
        const size_t k = bundle.slot_index(slot);
        if (std::find(zero_at_start_.begin(), zero_at_start_.end(), k) == zero_at_start_.end())
          zero_at_start_.push_back(k);
      }
    written.insert(v.writes.begin(), v.writes.end());
  }
  if (bundle.has_decoder()) {
    image_ = make_buffer(bundle.tensor("image"));
    image_scratch_.resize(bundle.tensor("image").numel());
    // The last step (index N-1) writes x_[N % 2]; the decoder reads it in place.
    decode_inputs_ = {EValue(*x_[bundle.steps.size() % 2].tensor)};
  }
}

void Scheduler::copy_output(const EValue& out, Buffer& dst, const char* what, size_t step) const {
  const auto where = [&] { return step == kDecoder ? std::string("decoder") : "step " + std::to_string(step); };
  if (!out.isTensor())
    throw RuntimeFailure(bundle_.program_path + ": " + where() + " returned a non-tensor " + what);
  const auto& t = out.toTensor();
  if (t.nbytes() != dst.nbytes || t.scalar_type() != dst.tensor->scalar_type())
    throw RuntimeFailure(bundle_.program_path + ": " + where() + " returned " + what + " of " +
                         std::to_string(t.nbytes()) + " bytes, expected " + std::to_string(dst.nbytes));
  std::memcpy(dst.data, t.const_data_ptr(), dst.nbytes);
}

RunResult Scheduler::run(const std::vector<float>& noise, const std::vector<int32_t>& classes, bool record_latents) {
  const TensorSpec& x = bundle_.tensor("x");
  store_floats(x.dtype, noise.data(), noise.size(), x_[0].data);
  std::memcpy(y_.data, classes.data(), y_.nbytes);
  for (size_t k : zero_at_start_) std::memset(slots_[k].data, 0, slots_[k].nbytes);

  RunResult r;
  r.step_ms.reserve(bundle_.steps.size());
  double bookkeeping_ms = 0;
  const auto start = Clock::now();
  for (size_t i = 0; i < bundle_.steps.size(); ++i) {
    const Variant& v = bundle_.variants[bundle_.steps[i].variant];
    const auto t0 = Clock::now();
    const auto outs = program_.execute(v.method, inputs_[i]);
    if (outs.size() != 1 + writes_[i].size())
      throw RuntimeFailure(bundle_.program_path + ": method " + v.method + " returned " + std::to_string(outs.size()) +
                           " outputs, expected " + std::to_string(1 + writes_[i].size()));
    Buffer& next = x_[(i + 1) % 2];
    copy_output(outs[0], next, "latent", i);
    for (size_t k = 0; k < writes_[i].size(); ++k) copy_output(outs[1 + k], slots_[writes_[i][k]], "cache", i);
    const auto t1 = Clock::now();
    r.step_ms.push_back(ms_between(t0, t1));
    if (record_latents) {
      load_floats(x.dtype, next.data, scratch_.size(), scratch_.data());
      r.latents.push_back(checksums(scratch_.data(), scratch_.size()));
      bookkeeping_ms += ms_between(t1, Clock::now());
    }
  }
  if (bundle_.has_decoder()) {
    const auto t0 = Clock::now();
    const auto outs = program_.execute(bundle_.decoder_method, decode_inputs_);
    if (outs.size() != 1)
      throw RuntimeFailure(bundle_.program_path + ": decoder method " + bundle_.decoder_method + " returned " +
                           std::to_string(outs.size()) + " outputs, expected 1");
    copy_output(outs[0], image_, "image", kDecoder);
    const auto t1 = Clock::now();
    r.decode_ms = ms_between(t0, t1);
    if (record_latents) {
      load_floats(bundle_.tensor("image").dtype, image_.data, image_scratch_.size(), image_scratch_.data());
      r.image = checksums(image_scratch_.data(), image_scratch_.size());
      bookkeeping_ms += ms_between(t1, Clock::now());
    }
  }
  // As the Python scheduler's total: the steps and the decoder, so runs of pixel and latent bundles both time
  // what it takes to produce the image.
  r.total_ms = ms_between(start, Clock::now()) - bookkeeping_ms;
  final_ = bundle_.steps.size() % 2;
  return r;
}

std::vector<float> Scheduler::image() const {
  if (!bundle_.has_decoder()) return latent();
  std::vector<float> out(image_scratch_.size());
  load_floats(bundle_.tensor("image").dtype, image_.data, out.size(), out.data());
  return out;
}

std::vector<float> Scheduler::latent() const {
  std::vector<float> out(scratch_.size());
  load_floats(bundle_.tensor("x").dtype, x_[final_].data, out.size(), out.data());
  return out;
}

}  // namespace lazydit
