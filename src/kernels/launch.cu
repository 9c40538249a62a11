// Launch overheads: an empty kernel launched from the CPU, and one node of
// a replayed CUDA graph.
#include "kernels/cuda_util.cuh"

namespace roofplan::kernels {

namespace {

constexpr int kLaunchesPerRepetition = 1000;
constexpr int kGraphNodes = 100;

// Empty unless `counter` is set: the correctness runs count the launches
// that really executed; the timed ones pass nullptr (one predicated-off
// branch, the cheapest kernel that can still be checked).
__global__ void EmptyKernel(unsigned* counter) {
  if (counter != nullptr) atomicAdd(counter, 1u);
}

unsigned ReadCounter(const DeviceBuffer& counter) {
  unsigned value = 0;
  ROOFPLAN_CUDA(cudaMemcpy(&value, counter.get(), sizeof(value), cudaMemcpyDeviceToHost));
  return value;
}

class Stream {
 public:
  Stream() { ROOFPLAN_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// A graph of kGraphNodes empty kernels captured on `stream`, instantiated.
class EmptyGraph {
 public:
  EmptyGraph(cudaStream_t stream, unsigned* counter) {
    // Thread-local capture: another thread's CUDA calls cannot invalidate
    // it, and it forbids nothing of ours.
    ROOFPLAN_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < kGraphNodes; ++i) EmptyKernel<<<1, 1, 0, stream>>>(counter);
    const cudaError_t launched = cudaGetLastError();
    // End the capture whatever happened, or the stream stays capturing.
    const cudaError_t ended = cudaStreamEndCapture(stream, &graph_);
    // A throwing constructor runs no destructor: release by hand.
    try {
      CheckCuda(launched, "EmptyKernel launch during stream capture");
      CheckCuda(ended, "cudaStreamEndCapture");
      size_t nodes = 0;
      ROOFPLAN_CUDA(cudaGraphGetNodes(graph_, nullptr, &nodes));
      if (nodes != static_cast<size_t>(kGraphNodes)) {
        throw KernelError("launch.graph_node: captured graph has " + std::to_string(nodes) +
                          " nodes, want " + std::to_string(kGraphNodes));
      }
      ROOFPLAN_CUDA(cudaGraphInstantiate(&exec_, graph_, 0));
      // Upload now so the first replay does not pay for it.
      ROOFPLAN_CUDA(cudaGraphUpload(exec_, stream));
    } catch (...) {
      Release();
      throw;
    }
  }
  ~EmptyGraph() { Release(); }
  EmptyGraph(const EmptyGraph&) = delete;
  EmptyGraph& operator=(const EmptyGraph&) = delete;
  cudaGraphExec_t exec() const { return exec_; }

 private:
  void Release() {
    if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);
    if (graph_ != nullptr) (void)cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
  }

  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

Timing Divide(Timing timing, double parts) {
  timing.median_us /= parts;
  timing.min_us /= parts;
  timing.p90_us /= parts;
  return timing;
}

}  // namespace

Timing TimeEmptyKernelLaunch() {
  RequireCudaDevice("launch.empty_kernel");
  {
    DeviceBuffer counter(sizeof(unsigned));
    ROOFPLAN_CUDA(cudaMemset(counter.get(), 0, sizeof(unsigned)));
    for (int i = 0; i < kLaunchesPerRepetition; ++i) EmptyKernel<<<1, 1>>>(counter.as<unsigned>());
    ROOFPLAN_CUDA(cudaGetLastError());
    const unsigned ran = ReadCounter(counter);
    if (ran != static_cast<unsigned>(kLaunchesPerRepetition)) {
      throw KernelError("launch.empty_kernel: " + std::to_string(ran) + " of " +
                        std::to_string(kLaunchesPerRepetition) + " launches ran");
    }
  }
  // Each repetition is 1000 back-to-back launches between two events:
  // when the CPU is slower to launch than the GPU to run, the GPU waits
  // and the events measure the CPU's launch rate, which is the point.
  const Timing timing = TimeWithEvents(
      [](int) {
        for (int i = 0; i < kLaunchesPerRepetition; ++i) EmptyKernel<<<1, 1>>>(nullptr);
      },
      /*warmup=*/3, /*repetitions=*/25);
  return Divide(timing, kLaunchesPerRepetition);
}

Timing TimeGraphNode() {
  RequireCudaDevice("launch.graph_node");
  Stream stream;
  {
    DeviceBuffer counter(sizeof(unsigned));
    // On the stream itself: a non-blocking stream does not wait for the
    // legacy default stream, where a plain cudaMemset would go.
    ROOFPLAN_CUDA(cudaMemsetAsync(counter.get(), 0, sizeof(unsigned), stream.get()));
    EmptyGraph counting(stream.get(), counter.as<unsigned>());
    constexpr int kReplays = 2;
    for (int i = 0; i < kReplays; ++i) ROOFPLAN_CUDA(cudaGraphLaunch(counting.exec(), stream.get()));
    ROOFPLAN_CUDA(cudaStreamSynchronize(stream.get()));
    const unsigned ran = ReadCounter(counter);
    if (ran != static_cast<unsigned>(kReplays * kGraphNodes)) {
      throw KernelError("launch.graph_node: " + std::to_string(ran) + " of " +
                        std::to_string(kReplays * kGraphNodes) + " graph kernels ran");
    }
  }
  EmptyGraph graph(stream.get(), nullptr);
  // The stream is non-blocking and all work and both events are on it, so
  // nothing on the legacy default stream serialises with the replays.
  const Timing timing = TimeWithEventsOnStream(
      stream.get(), [&](int) { ROOFPLAN_CUDA(cudaGraphLaunch(graph.exec(), stream.get())); },
      /*warmup=*/3, /*repetitions=*/25);
  return Divide(timing, kGraphNodes);
}

}  // namespace roofplan::kernels
