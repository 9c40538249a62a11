#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "model/kv_cache.h"

namespace roofplan {
TEST(Smoke, Llama31KvBytesPerToken) {
  ModelConfig m = ResolveModel("llama-3.1-8b");
  EXPECT_EQ(KvBytesPerToken(m, DType::kBf16), 131072.0);
}
}  // namespace roofplan
