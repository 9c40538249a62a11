// The parts of the microkernel API that are plain arithmetic and names:
// the same in builds with and without CUDA, so defined once, here.
#include "kernels/microkernels.h"

namespace roofplan::kernels {

const char* MemoryOpName(MemoryOp op) {
  switch (op) {
    case MemoryOp::kRead: return "read";
    case MemoryOp::kWrite: return "write";
    case MemoryOp::kCopy: return "copy";
  }
  return "unknown";
}

const char* GemmTypeName(GemmType type) {
  switch (type) {
    case GemmType::kBf16: return "bf16";
    case GemmType::kFp16: return "fp16";
    case GemmType::kFp8E4M3: return "fp8";
    case GemmType::kInt8: return "int8";
  }
  return "unknown";
}

double DecodeAttentionBytes(const DecodeAttentionShape& shape) {
  return static_cast<double>(shape.batch) * shape.context * shape.kv_heads * shape.head_dim * 2.0 *
         (shape.fp8_kv ? 1.0 : 2.0);
}

double PrefillAttentionFlops(const PrefillAttentionShape& shape) {
  return static_cast<double>(shape.batch) * shape.heads *
         (2.0 * 2.0 * shape.seq * static_cast<double>(shape.seq) * shape.head_dim) / 2.0;
}

const char* ElementwiseOpName(ElementwiseOp op) {
  switch (op) {
    case ElementwiseOp::kRmsNorm: return "rmsnorm";
    case ElementwiseOp::kRope: return "rope";
    case ElementwiseOp::kSiluMul: return "silu_mul";
    case ElementwiseOp::kResidualAdd: return "residual_add";
  }
  return "unknown";
}

double ElementwiseBytes(ElementwiseOp op, int64_t tokens, int hidden) {
  if (tokens <= 0 || hidden <= 0) return 0;
  const double t = static_cast<double>(tokens), h = hidden, bf16 = 2;
  constexpr double kRopePairs = 64;  // head_dim 128: 64 rotated pairs per head
  switch (op) {
    case ElementwiseOp::kRmsNorm: return bf16 * (2 * t * h + h);  // x and w in, y out
    case ElementwiseOp::kRope:  // x in and out, one cos/sin float2 per pair per token
      return bf16 * 2 * t * h + t * kRopePairs * 2 * sizeof(float);
    case ElementwiseOp::kSiluMul: return bf16 * (2 * t * h + t * h);  // gate and up in, y out
    case ElementwiseOp::kResidualAdd: return bf16 * 3 * t * h;        // r and x in, r out
  }
  return 0;
}

}  // namespace roofplan::kernels
