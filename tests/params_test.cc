// Parameter counts of every catalog model against the figures their owners
// publish (/work/shared/reference/models.md, section 3, "Published"
// column). Where the published figure is only the model's name ("7B"), the
// reference's "Computed" column (a hand count from the config fields) is
// used instead, and the row says so.
#include <cmath>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "model/params.h"

namespace roofplan {
namespace {

// What a publisher's active count leaves out.
enum class ActiveCount {
  kAll,
  kWithoutInputEmbedding,  // gpt-oss
  kWithoutEmbeddings,      // input embedding and LM head (Qwen3-Next "A3B", GLM-4.5)
  kWithoutIndexer,         // DeepSeek-V3.2 quotes V3's 37B, without its indexer
};

struct Published {
  const char* slug;
  double total;   // parameters
  double active;  // 0: dense model, no separate active figure
  ActiveCount active_count = ActiveCount::kAll;
  // Tolerance on `active`; 1% unless the published figure is too coarse.
  double active_tolerance = 0.01;
  const char* source = "";
  // Multimodal cards count the vision tower in the total.
  bool total_includes_vision = false;
  double total_tolerance = 0.01;
};

// Hand checks of a few rows (the rest follow the same recipe):
//  llama-3.1-8b: embed 128256*4096 = 525,336,576, untied lm_head the same;
//    per layer q 4096*4096 + kv 2*4096*1024 + o 4096*4096 = 41,943,040,
//    MLP 3*4096*14336 = 176,160,768, 2 norms 8,192 -> 218,112,000;
//    32 layers 6,979,584,000 + 2*525,336,576 + final norm 4,096
//    = 8,030,261,248 (models.md Computed 8.030B).
//  mixtral-8x7b active: per layer attention 41,943,040 + 2 of 8 experts
//    2*176,160,768 + router 4096*8 + norms 8,192 = 394,305,536; x32
//    = 12,617,777,152, + embed and lm_head 2*32000*4096 = 262,144,000,
//    + final norm 4,096 = 12,879,925,248 ~ 12.88B vs published 12.9B.
//  deepseek-v3 (61 layers, 3 dense, 58 MoE): attention per layer
//    q_a 7168*1536 + 1536 + q_b 1536*128*192 + kv_a 7168*576 + 512
//    + kv_b 512*128*256 + o 128*128*7168 = 187,107,328; dense MLP
//    3*7168*18432; expert 3*7168*2048 = 44,040,192; total
//    = 671,026,419,200; active (8 routed + 1 shared) = 37,552,297,472.
//  falcon-180b (not in models.md): per layer qkv 14848*(14848+2*8*64)
//    + o 14848^2 + MLP 2*14848*59392 + 2 LayerNorms 4*14848
//    = 2,219,894,784; x80 + tied embed 65024*14848 + final norm 2*14848
//    = 178,557,088,768 ~ 178.6B vs the card's "180B" (-0.8%).
//  gpt-j-6b (not in models.md): per layer 4*4096^2 + fc_in/fc_out with
//    biases 2*4096*16384 + 16384 + 4096 + ln 8192 = 201,355,264; x28
//    + wte 50400*4096 + lm_head with bias 50400*4096 + 50400 + ln_f 8192
//    = 6,050,882,784 vs the card's n_parameters 6,053,381,344 (-0.04%).
const Published kModels[] = {
    // Dense. Name-only published figures -> models.md Computed column.
    {"llama-2-7b", 6.738e9, 0, ActiveCount::kAll, 0.01, "name '7B' only: Computed 6.738B"},
    {"llama-2-13b", 13.016e9, 0, ActiveCount::kAll, 0.01, "name '13B' only: Computed 13.016B"},
    {"llama-2-70b", 68.977e9, 0, ActiveCount::kAll, 0.01, "name '70B' only: Computed 68.977B"},
    {"llama-3.1-8b", 8.030e9, 0, ActiveCount::kAll, 0.01, "name '8B' only: Computed 8.030B"},
    {"llama-3.1-70b", 70.554e9, 0, ActiveCount::kAll, 0.01, "name '70B' only: Computed 70.554B"},
    {"llama-3.1-405b", 405.853e9, 0, ActiveCount::kAll, 0.01, "name '405B' only: Computed 405.853B"},
    {"mistral-7b", 7.3e9, 0, ActiveCount::kAll, 0.01, "published 7.3B (marked unverified)"},
    {"qwen2.5-7b", 7.61e9, 0, ActiveCount::kAll, 0.01, "published 7.61B total (marked unverified)"},
    {"qwen2.5-72b", 72.7e9, 0, ActiveCount::kAll, 0.01, "published 72.7B [M14]"},
    {"gemma-2-9b", 9.242e9, 0, ActiveCount::kAll, 0.01, "name '9B' only: Computed 9.242B"},
    {"gemma-2-27b", 27.227e9, 0, ActiveCount::kAll, 0.01, "name '27B' only: Computed 27.227B"},
    // "7B parameters" in a docstring is the name's rounding (6.922B is
    // -1.1% from 7B), so the Computed column is used.
    {"falcon-7b", 6.922e9, 0, ActiveCount::kAll, 0.01, "name-level '7B' only: Computed 6.922B"},
    {"phi-3-mini", 3.8e9, 0, ActiveCount::kAll, 0.01, "published 3.8B (third-party)"},
    {"falcon-180b", 180e9, 0, ActiveCount::kAll, 0.01, "model card '180B' (not in models.md)"},
    {"gpt-j-6b", 6053381344.0, 0, ActiveCount::kAll, 0.01, "model card n_parameters (not in models.md)"},
    // Mixture of experts: total and active.
    {"mixtral-8x7b", 46.7e9, 12.9e9, ActiveCount::kAll, 0.01, "published 46.7B / 12.9B [M11]"},
    {"mixtral-8x22b", 141e9, 39e9, ActiveCount::kAll, 0.01, "published 141B / 39B [M12]"},
    // Published active figures with two significant digits: 3.3B and 37B
    // carry +-1.5% of rounding, and both models.md Computed actives sit just
    // beyond 1% (3.353B: +1.6%; 37.552B: +1.5%). 2% here; the Computed
    // column is checked at 1% in ActiveMatchesComputedColumn below.
    {"qwen3-30b-a3b", 30.5e9, 3.3e9, ActiveCount::kAll, 0.02, "published 30.5B / 3.3B [M15]"},
    {"qwen3-235b-a22b", 235e9, 22e9, ActiveCount::kAll, 0.01, "published 235B / 22B [M16]"},
    {"deepseek-v3", 671e9, 37e9, ActiveCount::kAll, 0.02, "published 671B / 37B excl. MTP [M17]"},
    {"gpt-oss-20b", 20.9e9, 3.6e9, ActiveCount::kWithoutInputEmbedding, 0.01, "published 20.9B / 3.6B [M18]"},
    {"gpt-oss-120b", 116.8e9, 5.1e9, ActiveCount::kWithoutInputEmbedding, 0.01, "published 116.8B / 5.1B [M18]"},
    // 2025-26 architectures (shared/validation/hf_configs/index.json gives
    // each figure's source). A figure that is only a name ("17B", "A3B")
    // carries half a unit of its last digit of rounding; the tolerance is
    // that, or 2%, whichever is larger.
    {"llama-4-scout", 109e9, 17e9, ActiveCount::kAll, 0.03, "HF blog: 17B active of ~109B, with vision", true},
    {"llama-4-maverick", 402e9, 17e9, ActiveCount::kAll, 0.03, "transformers docs 402B; trimmed config without vision_config"},
    {"gemma-3-27b", 27.4e9, 0, ActiveCount::kAll, 0.01, "Gemma 3 report Table 1: 27.4B incl. 417M vision", true},
    {"qwen3-8b", 8.2e9, 0, ActiveCount::kAll, 0.01, "Qwen3-8B card 8.2B"},
    {"qwen3-32b", 32.8e9, 0, ActiveCount::kAll, 0.01, "Qwen3-32B card 32.8B"},
    {"qwen3-next-80b-a3b", 80e9, 3e9, ActiveCount::kWithoutEmbeddings, 0.17, "card: 80B total, 3B activated (the name)"},
    {"deepseek-r1", 671e9, 37e9, ActiveCount::kAll, 0.02, "published 671B / 37B excl. MTP"},
    {"deepseek-v3.2", 671e9, 37e9, ActiveCount::kWithoutIndexer, 0.02, "V3's 671B / 37B; the indexer adds 0.85B"},
    // "32B activated" is a name: 32.86B with embeddings, 31.69B without the input one.
    {"kimi-k2", 1.04e12, 32e9, ActiveCount::kAll, 0.03, "card: 1T (1.04T) / 32B", false, 0.02},
    {"glm-4.5", 355e9, 32e9, ActiveCount::kWithoutEmbeddings, 0.02, "card: 355B / 32B active (incl. the MTP layer in the total)"},
    {"glm-4.6", 355e9, 32e9, ActiveCount::kWithoutEmbeddings, 0.02, "card: GLM-4.5's architecture, 355B / 32B"},
    {"glm-4.5-air", 106e9, 12e9, ActiveCount::kWithoutEmbeddings, 0.02, "card: 106B / 12B active (incl. the MTP layer in the total)"},
    {"qwen3-14b", 14.8e9, 0, ActiveCount::kAll, 0.01, "Qwen3-14B card 14.8B"},
    {"codellama-34b", 33.7e9, 0, ActiveCount::kAll, 0.01, "Code Llama HF card 33.7B"},
    {"deepseek-v2.5", 236e9, 21e9, ActiveCount::kAll, 0.02, "DeepSeek-V2 report: 236B / 21B"},
    // Phi-4's report calls it a 14-billion-parameter model: the name's
    // rounding down of the 14.66B its config gives.
    {"phi-4", 14e9, 0, ActiveCount::kAll, 0.01, "Phi-4 report: 14B (a name)", false, 0.05},
    {"nemotron-h-56b", 56e9, 0, ActiveCount::kAll, 0.01, "Nemotron-H card 56B"},
    {"nemotron-3-nano", 31.6e9, 3.6e9, ActiveCount::kAll, 0.02, "card: 31.6B / 3.2B (3.6B incl. embeddings)"},
};

// gtest prints the parameter of a failing case: the slug.
void PrintTo(const Published& p, std::ostream* os) { *os << p.slug; }

double RelativeError(double value, double reference) {
  return std::fabs(value - reference) / reference;
}

class PublishedParams : public ::testing::TestWithParam<Published> {};

TEST_P(PublishedParams, TotalMatchesPublished) {
  const Published& p = GetParam();
  const ParamCounts counts = CountParams(ResolveModel(p.slug));
  const double total = counts.total() + (p.total_includes_vision ? counts.vision : 0);
  EXPECT_LT(RelativeError(total, p.total), p.total_tolerance)
      << p.slug << ": computed " << total / 1e9 << "B vs " << p.total / 1e9 << "B ("
      << p.source << ")";
}

TEST_P(PublishedParams, ActiveMatchesPublished) {
  const Published& p = GetParam();
  const ModelConfig model = ResolveModel(p.slug);
  const ParamCounts counts = CountParams(model);
  if (p.active == 0) {
    // Dense: every parameter is active.
    EXPECT_FALSE(model.is_moe());
    EXPECT_DOUBLE_EQ(counts.active, counts.total());
    return;
  }
  ASSERT_TRUE(model.is_moe());
  double active = counts.active;
  switch (p.active_count) {
    case ActiveCount::kAll: break;
    case ActiveCount::kWithoutInputEmbedding: active -= counts.embedding; break;
    case ActiveCount::kWithoutEmbeddings: active -= counts.embedding + counts.lm_head; break;
    case ActiveCount::kWithoutIndexer: active -= counts.indexer; break;
  }
  EXPECT_LT(RelativeError(active, p.active), p.active_tolerance)
      << p.slug << ": computed active " << active / 1e9 << "B vs " << p.active / 1e9 << "B ("
      << p.source << ")";
}

std::string TestName(const ::testing::TestParamInfo<Published>& info) {
  std::string name = info.param.slug;
  for (char& c : name) {
    if (c == '-' || c == '.') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Catalog, PublishedParams, ::testing::ValuesIn(kModels), TestName);

// Every file in models/ has a row above.
TEST(PublishedParamsTable, CoversEveryCatalogModel) {
  const auto slugs = ListModels();
  EXPECT_EQ(slugs.size(), std::size(kModels));
  for (const auto& slug : slugs) {
    bool found = false;
    for (const auto& p : kModels) found = found || slug == p.slug;
    EXPECT_TRUE(found) << slug << " has no published figure in params_test.cc";
  }
}

// models.md Computed active (models.md section 3) at 1%, for the two models
// whose published active figure is too coarse for 1%.
TEST(PublishedParamsTable, ActiveMatchesComputedColumn) {
  EXPECT_LT(RelativeError(CountParams(ResolveModel("qwen3-30b-a3b")).active, 3.353e9), 0.01);
  EXPECT_LT(RelativeError(CountParams(ResolveModel("deepseek-v3")).active, 37.552e9), 0.01);
}

// Published non-embedding figures: Qwen2.5-7B 6.53B [M13], Qwen2.5-72B 70.0B
// [M14] (total minus the input embedding and the untied LM head, each
// 152064 * hidden: 3584 -> 0.545B, 8192 -> 1.246B).
TEST(PublishedParamsTable, QwenNonEmbedding) {
  for (auto [slug, published] : {std::pair{"qwen2.5-7b", 6.53e9}, std::pair{"qwen2.5-72b", 70.0e9}}) {
    const ParamCounts c = CountParams(ResolveModel(slug));
    EXPECT_LT(RelativeError(c.total() - c.embedding - c.lm_head, published), 0.01) << slug;
  }
}

// gpt-oss: published active excludes the input embedding, 201088 * 2880
// = 579,133,440 parameters.
TEST(PublishedParamsTable, GptOssEmbeddingSize) {
  EXPECT_DOUBLE_EQ(CountParams(ResolveModel("gpt-oss-20b")).embedding, 201088.0 * 2880);
}

}  // namespace
}  // namespace roofplan
