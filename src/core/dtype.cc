#include "core/dtype.h"

#include <algorithm>
#include <cctype>

namespace roofplan {

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFp32: return "fp32";
    case DType::kTf32: return "tf32";
    case DType::kBf16: return "bf16";
    case DType::kFp16: return "fp16";
    case DType::kFp8: return "fp8";
    case DType::kInt8: return "int8";
    case DType::kInt4: return "int4";
    case DType::kFp4: return "fp4";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "fp32" || s == "float32" || s == "float") return DType::kFp32;
  if (s == "tf32") return DType::kTf32;
  if (s == "bf16" || s == "bfloat16") return DType::kBf16;
  if (s == "fp16" || s == "float16" || s == "half") return DType::kFp16;
  if (s == "fp8" || s == "fp8_e4m3" || s == "e4m3" || s == "float8_e4m3fn") return DType::kFp8;
  if (s == "int8" || s == "w8a8") return DType::kInt8;
  if (s == "int4" || s == "w4a16" || s == "awq" || s == "gptq") return DType::kInt4;
  if (s == "fp4" || s == "nvfp4" || s == "mxfp4") return DType::kFp4;
  return std::nullopt;
}

std::string DTypeChoices() { return "bf16, fp16, fp8, int8, int4, fp4"; }

}  // namespace roofplan
