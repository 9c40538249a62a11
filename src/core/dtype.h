// Numeric formats of weights, activations and the KV cache, and what one
// element costs in memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace roofplan {

enum class DType { kFp32, kTf32, kBf16, kFp16, kFp8, kInt8, kInt4, kFp4 };

inline constexpr int kNumDTypes = 8;

// Storage bytes per element, including the scales that block-quantised
// formats carry: int4 is AWQ/GPTQ-style with one fp16 scale per group of 128
// (0.5 + 2/128 bytes); fp4 is NVFP4 with one fp8 scale per 16 (0.5 + 1/16).
// fp8 and int8 use per-tensor or per-channel scales, negligible per element.
// Inline: the op builder asks it for every GEMM of every priced step.
constexpr double BytesPerElement(DType dtype) {
  switch (dtype) {
    case DType::kFp32:
    case DType::kTf32:
      return 4.0;
    case DType::kBf16:
    case DType::kFp16:
      return 2.0;
    case DType::kFp8:
    case DType::kInt8:
      return 1.0;
    case DType::kInt4:
      return 0.5 + 2.0 / 128.0;
    case DType::kFp4:
      return 0.5 + 1.0 / 16.0;
  }
  return 2.0;
}

// Canonical lowercase name: "fp32", "tf32", "bf16", "fp16", "fp8", "int8",
// "int4", "fp4".
std::string_view DTypeName(DType dtype);

// Parses a name, case-insensitively; accepts aliases "bfloat16",
// "float16", "half", "float32", "fp8_e4m3", "e4m3", "w4a16", "nvfp4", "mxfp4".
std::optional<DType> ParseDType(std::string_view name);

// "bf16, fp16, fp8, int8, int4, fp4": for error messages.
std::string DTypeChoices();

inline int DTypeIndex(DType dtype) { return static_cast<int>(dtype); }

}  // namespace roofplan
