// ExecuTorch's CPU thread pool (extension/threadpool), shared by the XNNPACK delegate and the optimized kernels.
// A source install ships extension/threadpool/threadpool.h; the executorch wheel ships the library
// (libexecutorch_threadpool.so) but not that header, so the two functions the runner calls are declared here
// with the library's signatures.
#pragma once

#if __has_include(<executorch/extension/threadpool/threadpool.h>)
#include <executorch/extension/threadpool/threadpool.h>
#else
#include <cstddef>
#include <cstdint>

namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  // Recreates the pool with num_threads workers; only safe before any delegate captured the old pool.
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool
#endif
