#include "program.h"

#include <chrono>
#include <sstream>

#include <executorch/runtime/backend/interface.h>
#include <executorch/runtime/backend/options.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>
#include <executorch/runtime/platform/runtime.h>

#include "errors.h"
#include "et_log.h"
#include "threadpool_api.h"

using executorch::extension::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::aten::ScalarType;

namespace lazydit {
namespace {

constexpr const char* kXnnpack = "XnnpackBackend";

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ExecuTorch's error code, and the first message it logged since (the code alone says "InvalidProgram").
std::string err(Error e) {
  std::string s = executorch::runtime::to_string(e);
  const std::string logged = take_executorch_error();
  if (!logged.empty()) s += ": " + logged;
  return s;
}

ScalarType scalar_type(DType d) {
  switch (d) {
    case DType::Float32: return ScalarType::Float;
    case DType::Float16: return ScalarType::Half;
    case DType::Int32: return ScalarType::Int;
  }
  return ScalarType::Float;
}

template <typename Sizes>
std::string shape_str(const Sizes& sizes) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < sizes.size(); ++i) o << (i ? ", " : "") << sizes[i];
  o << "]";
  return o.str();
}

}  // namespace

Program::Program(const Bundle& bundle, const ProgramOptions& options) : path_(bundle.program_path) {
  executorch::runtime::runtime_init();
  // The delegate registers itself from a static initialiser in its library; if the linker dropped that library
  // every method would fail to load with a less direct message, so say what is wrong up front.
  if (executorch::runtime::get_backend_class(kXnnpack) == nullptr)
    throw RuntimeFailure("the XNNPACK delegate is not registered in this build of lazydit_runner; link the "
                         "xnnpack backend library with --whole-archive (static) or --no-as-needed (shared)");

  // Size the pool before any method loads: XNNPACK captures the pool when it creates its runtime, and
  // resetting it afterwards would leave those runtimes holding a destroyed pool.
  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (options.threads > 0 && pool != nullptr) pool->_unsafe_reset_threadpool(static_cast<uint32_t>(options.threads));
  thread_count_ = pool != nullptr ? static_cast<int>(pool->get_thread_count()) : 1;

  // From here until the methods are checked, anything ExecuTorch cannot read is the program file's fault: a
  // garbage .pte whose checksum was recomputed must give one line naming it (exit 2), not an abort.
  Phase phase(path_ + ": ExecuTorch cannot load this program; re-export the bundle", kExitInput);
  const auto t0 = std::chrono::steady_clock::now();
  module_ = std::make_unique<Module>(path_, options.mmap ? Module::LoadMode::Mmap : Module::LoadMode::File);
  executorch::runtime::BackendOptions<2> xnnpack;
  // With the weight cache every delegate looks its packed weights up by name in one shared cache, so methods
  // that use the same weights (every variant of a bundle) hold one packed copy between them.
  xnnpack.set_option("weight_cache_enabled", options.weight_cache);
  executorch::runtime::LoadBackendOptionsMap backend_options;
  if (backend_options.set_options(kXnnpack, xnnpack.view()) != Error::Ok)
    throw RuntimeFailure("cannot set XNNPACK load options");
  // InternalConsistency runs the flatbuffer verifier over the whole program; Minimal (the default) checks only
  // the header, and an offset or length garbled past it is then followed into memory that is not the file.
  const Error e = module_->load(backend_options, executorch::runtime::Program::Verification::InternalConsistency);
  if (e != Error::Ok) throw InputError(path_ + ": ExecuTorch cannot load this program (" + err(e) + "); re-export the bundle");
  program_load_ms_ = ms_since(t0);
  check_against(bundle);
}

void Program::check_against(const Bundle& bundle) {
  for (const Variant& v : bundle.variants) {
    std::vector<const TensorSpec*> inputs = {&bundle.tensor("x"), &bundle.tensor("t"), &bundle.tensor("y"),
                                             &bundle.tensor("coef")};
    TensorSpec ratio{{static_cast<int64_t>(v.ratio_slots.size())}, bundle.tensor("coef").dtype};
    if (!v.ratio_slots.empty()) inputs.push_back(&ratio);
    for (size_t i = 0; i < v.reads.size(); ++i) inputs.push_back(&bundle.tensor("cache"));
    std::vector<const TensorSpec*> outputs = {&bundle.tensor("x_next")};
    for (size_t i = 0; i < v.writes.size(); ++i) outputs.push_back(&bundle.tensor("cache"));
    check_method("variant " + v.name, v.method, inputs, outputs);
  }
  // The decoder takes the last step's x_next as it comes out of the graph (dtype included) and gives the image.
  if (bundle.has_decoder())
    check_method("decoder", bundle.decoder_method, {&bundle.tensor("x_next")}, {&bundle.tensor("image")});
}

void Program::check_method(const std::string& what, const std::string& method,
                           const std::vector<const TensorSpec*>& inputs, const std::vector<const TensorSpec*>& outputs) {
  const auto names = module_->method_names();
  if (!names.ok()) throw InputError(path_ + ": cannot list the program's methods (" + err(names.error()) + ")");
  const std::string where = path_ + ": " + what + " (method " + method + ") ";
  if (!names->count(method))
    throw InputError(path_ + ": " + what + " has no executorch method " + method +
                     " in this program; re-export the bundle");
  const auto meta = module_->method_meta(method);
  if (!meta.ok()) throw InputError(where + "cannot be read (" + err(meta.error()) + "); re-export the bundle");
  if (meta->num_inputs() != inputs.size() || meta->num_outputs() != outputs.size())
    throw InputError(where + "takes " + std::to_string(meta->num_inputs()) + " inputs and returns " +
                     std::to_string(meta->num_outputs()) + " outputs, the manifest says " +
                     std::to_string(inputs.size()) + " and " + std::to_string(outputs.size()) +
                     "; re-export the bundle");
  for (int io = 0; io < 2; ++io) {
    const auto& specs = io == 0 ? inputs : outputs;
    for (size_t i = 0; i < specs.size(); ++i) {
      auto info = io == 0 ? meta->input_tensor_meta(i) : meta->output_tensor_meta(i);
      const char* kind = io == 0 ? "input " : "output ";
      if (!info.ok()) throw InputError(where + kind + std::to_string(i) + " is not a tensor; re-export the bundle");
      const auto sizes = info->sizes();
      const std::vector<int64_t> got(sizes.begin(), sizes.end());
      if (got != specs[i]->shape || info->scalar_type() != scalar_type(specs[i]->dtype))
        throw InputError(where + kind + std::to_string(i) + " is " + shape_str(got) + " " +
                         executorch::runtime::toString(info->scalar_type()) + ", the manifest says " +
                         shape_str(specs[i]->shape) + " " + dtype_name(specs[i]->dtype) + "; re-export the bundle");
    }
  }
}

double Program::load_method(const Variant& v) { return load("variant " + v.name, v.method); }

double Program::load_decoder(const Bundle& bundle) { return load("decoder", bundle.decoder_method); }

double Program::load(const std::string& what, const std::string& method) {
  // Loading a method parses its delegate blobs (XNNPACK's own flatbuffer, past what the program verifier
  // covers), so a garbled blob in a file with a matching checksum fails, or trips a check, here.
  Phase phase(path_ + ": " + what + " (method " + method + "): ExecuTorch cannot load this method; re-export the bundle",
              kExitInput);
  const auto t0 = std::chrono::steady_clock::now();
  const Error e = module_->load_method(method);
  if (e == Error::Ok) return ms_since(t0);
  const std::string msg = path_ + ": " + what + " (method " + method + ") cannot be loaded (" + err(e) + ")";
  // A missing operator (a build with fewer kernels than the exporter's) or a delegate out of memory is this
  // build's or this machine's problem. Everything else seen from a file with a matching checksum is the file's:
  // the method's planned memory is allocated from sizes the file states, so MemoryAllocationFailed there means
  // offsets past those sizes, and NotImplemented is a value type the file garbled.
  if (e == Error::OperatorMissing || e == Error::DelegateMemoryAllocationFailed) throw RuntimeFailure(msg);
  throw InputError(msg + "; re-export the bundle");
}

std::vector<EValue> Program::execute(const std::string& method, const std::vector<EValue>& inputs) {
  auto result = module_->execute(method, inputs);
  if (!result.ok()) throw RuntimeFailure(path_ + ": method " + method + " failed (" + err(result.error()) + ")");
  return std::move(*result);
}

}  // namespace lazydit
