// Catalog files load, hold their datasheet figures, and bad input fails
// with a message that names the file, the JSON path and the problem.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "core/units.h"
#include "hardware/efficiency.h"
#include "perf/step_time.h"
#include "test_support.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;




TEST(Catalog, EveryFileLoads) {
  const auto models = ListModels();
  const auto gpus = ListGpus();
  const auto engines = ListEngines();
  EXPECT_EQ(models.size(), 40u);
  EXPECT_EQ(gpus.size(), 21u);
  EXPECT_EQ(engines.size(), 11u);  // 5 engines, 6 version presets
  for (const auto& slug : models) {
    EXPECT_NO_THROW({
      ModelConfig m = ResolveModel(slug);
      EXPECT_EQ(m.slug, slug);
      EXPECT_GT(m.hidden_size, 0);
      EXPECT_GT(m.num_layers, 0);
    }) << slug;
  }
  for (const auto& slug : gpus) {
    EXPECT_NO_THROW({
      GpuSpec g = ResolveGpu(slug);
      EXPECT_GT(g.memory_bytes, 0);
      EXPECT_GT(g.memory_bandwidth_gb_per_s, 0);
    }) << slug;
  }
  for (const auto& name : engines) EXPECT_NO_THROW(ResolveEngine(name)) << name;
  for (const char* name : {"trtllm", "vllm", "sglang", "pytorch"}) {
    EXPECT_NE(std::find(engines.begin(), engines.end(), name), engines.end()) << name;
  }
}

TEST(Catalog, H100SxmDatasheet) {
  // NVIDIA H100 SXM5: 989 dense bf16 TFLOPS, 3.35 TB/s HBM3, 80 GB
  // (read as GiB).
  const GpuSpec g = ResolveGpu("h100-sxm");
  ASSERT_TRUE(g.peak_dense_tflops[DTypeIndex(DType::kBf16)].has_value());
  EXPECT_DOUBLE_EQ(*g.peak_dense_tflops[DTypeIndex(DType::kBf16)], 989);
  EXPECT_DOUBLE_EQ(*g.peak_dense_tflops[DTypeIndex(DType::kFp8)], 1979);
  EXPECT_DOUBLE_EQ(g.memory_bandwidth_gb_per_s, 3350);
  EXPECT_DOUBLE_EQ(g.memory_bytes, 80 * kGiB);
  EXPECT_EQ(g.sm_count.value_or(0), 132);
}

TEST(Catalog, RtxPro6000ServerDatasheet) {
  // RTX PRO 6000 Blackwell Server Edition: 96 GB GDDR7 at 1597 GB/s (the
  // Workstation Edition's 1792 is not this card); no NVLink; the page's
  // 4 PFLOPS FP4 is with sparsity, so 2000 dense.
  const GpuSpec g = ResolveGpu("rtx-pro-6000");
  EXPECT_DOUBLE_EQ(g.memory_bytes, 96 * kGiB);
  EXPECT_DOUBLE_EQ(g.memory_bandwidth_gb_per_s, 1597);
  EXPECT_EQ(g.scale_up, ScaleUpLink::kNone);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kFp4)].value_or(0), 2000);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kBf16)].value_or(0), 500);
  EXPECT_TRUE(g.IsUnverified("sm_count"));
}

TEST(Catalog, Gh200Datasheet) {
  // GH200, 96 GB HBM3 variant at 4 TB/s; per-GPU peaks are H100 SXM's.
  const GpuSpec g = ResolveGpu("gh200");
  EXPECT_DOUBLE_EQ(g.memory_bytes, 96 * kGiB);
  EXPECT_DOUBLE_EQ(g.memory_bandwidth_gb_per_s, 4000);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kBf16)].value_or(0), 989);
  EXPECT_FALSE(g.peak_dense_tflops[DTypeIndex(DType::kFp4)].has_value());
}

TEST(Catalog, H20Datasheet) {
  // H20: 96 GB at 4.0 TB/s, compute cut to 148 dense fp16 / 296 fp8.
  const GpuSpec g = ResolveGpu("h20");
  EXPECT_DOUBLE_EQ(g.memory_bytes, 96 * kGiB);
  EXPECT_DOUBLE_EQ(g.memory_bandwidth_gb_per_s, 4000);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kFp16)].value_or(0), 148);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kFp8)].value_or(0), 296);
  EXPECT_TRUE(g.IsUnverified("tdp_w"));
}

TEST(Catalog, Mi355xDatasheet) {
  // AMD Instinct MI355X: 288 GB HBM3E at 8 TB/s, 256 CUs, 2.5 PF dense bf16,
  // xGMI 7 x 153 GB/s.
  const GpuSpec g = ResolveGpu("mi355x");
  EXPECT_DOUBLE_EQ(g.memory_bytes, 288 * kGiB);
  EXPECT_DOUBLE_EQ(g.memory_bandwidth_gb_per_s, 8000);
  EXPECT_EQ(g.sm_count.value_or(0), 256);
  EXPECT_DOUBLE_EQ(g.peak_dense_tflops[DTypeIndex(DType::kBf16)].value_or(0), 2500);
  EXPECT_EQ(g.scale_up, ScaleUpLink::kXgmi);
  EXPECT_DOUBLE_EQ(g.scale_up_gb_per_s_bidir.value_or(0), 1071);
}

TEST(Catalog, A10gPeakIsUnverified) {
  const GpuSpec g = ResolveGpu("a10g");
  EXPECT_FALSE(g.peak_dense_tflops[DTypeIndex(DType::kBf16)].has_value());
  EXPECT_TRUE(g.IsUnverified("peak_dense_tflops.bf16"));
  try {
    StepTimeModel perf(ResolveModel("llama-3.1-8b"), g, ParallelPlan(), Precision(),
                       ResolveEngine("vllm"), DefaultEfficiency(g));
    FAIL() << "a10g has no bf16 peak; StepTimeModel should refuse it";
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "could not be verified")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "a10g")) << e.what();
  }
}

TEST(Catalog, ClosestMatches) {
  const auto close = ClosestMatches("llama-3-8b", ListModels());
  ASSERT_FALSE(close.empty());
  EXPECT_EQ(close.front(), "llama-3.1-8b");
  EXPECT_EQ(ClosestMatches("h100", ListGpus()).size(), 3u);  // h100-nvl, -pcie, -sxm
}

TEST(Catalog, UnknownModelSuggestsANearName) {
  try {
    ResolveModel("llama-3.1-8bb");
    FAIL() << "no such model";
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "did you mean")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "llama-3.1-8b")) << e.what();
  }
}

TEST(Catalog, UnknownModelAlwaysSaysDidYouMean) {
  // Even a name far from every model gets the nearest few suggestions.
  try {
    ResolveModel("no-such-model");
    FAIL() << "no such model";
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "did you mean")) << e.what();
  }
}

TEST(Catalog, UnknownModelIsAnError) {
  try {
    ResolveModel("no-such-model");
    FAIL() << "no such model";
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "no-such-model")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "roofplan list models")) << e.what();
  }
}

TEST(BadInput, MalformedJsonNamesFileAndLine) {
  const std::string path = WriteTemp("broken.json", "{\n  \"hidden_size\": 4096,\n  oops\n}\n");
  const std::string msg = InputErrorOf([&] { LoadModelConfig(path); });
  EXPECT_TRUE(Contains(msg, path)) << msg;
  EXPECT_TRUE(Contains(msg, "line 3")) << msg;
}

TEST(BadInput, MissingHiddenSizeNamesThePath) {
  const std::string path = WriteTemp(
      "no-hidden.json",
      R"({"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 4,
          "vocab_size": 100})");
  const std::string msg = InputErrorOf([&] { LoadModelConfig(path); });
  EXPECT_TRUE(Contains(msg, path)) << msg;
  EXPECT_TRUE(Contains(msg, "$.hidden_size")) << msg;
}

TEST(BadInput, StringForANumberNamesPathAndExpected) {
  const std::string path = WriteTemp(
      "string-hidden.json",
      R"({"model_type": "llama", "hidden_size": "abc", "num_hidden_layers": 2,
          "num_attention_heads": 4, "vocab_size": 100})");
  const std::string msg = InputErrorOf([&] { LoadModelConfig(path); });
  EXPECT_TRUE(Contains(msg, "$.hidden_size")) << msg;
  EXPECT_TRUE(Contains(msg, "expected")) << msg;
  EXPECT_TRUE(Contains(msg, "abc")) << msg;
}

TEST(BadInput, ScenarioUnknownKeyIsRejected) {
  const std::string path = WriteTemp(
      "typo.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "concurency": 8})");
  const std::string msg = InputErrorOf([&] { LoadScenario(path); });
  EXPECT_TRUE(Contains(msg, "$.concurency")) << msg;
  EXPECT_TRUE(Contains(msg, path)) << msg;

  const std::string in_workload = InputErrorOf([] {
    ParseScenario(nlohmann::json::parse(
                      R"({"model": "m", "gpu": "g", "workload": {"isl": 1, "concurency": 8}})"),
                  "x.json");
  });
  EXPECT_TRUE(Contains(in_workload, "$.workload.concurency")) << in_workload;
}

TEST(BadInput, ScenarioConcurrencyLots) {
  const std::string msg = InputErrorOf([] {
    ParseScenario(nlohmann::json::parse(
                      R"({"model": "m", "gpu": "g", "workload": {"concurrency": "lots"}})"),
                  "s.json");
  });
  EXPECT_TRUE(Contains(msg, "$.workload.concurrency")) << msg;
  EXPECT_TRUE(Contains(msg, "lots")) << msg;
}

TEST(BadInput, ScenarioFields) {
  const Scenario ok = ParseScenario(
      nlohmann::json::parse(R"({"model": "m", "gpu": "g", "tp": 2, "weight_dtype": "fp8",
                                "engine": {"preset": "trtllm", "max_num_seqs": 64},
                                "workload": {"isl": 10, "osl": 5, "concurrency": "max"}})"),
      "s.json");
  EXPECT_EQ(ok.tp.value_or(0), 2);
  EXPECT_EQ(ok.weight_dtype, DType::kFp8);
  EXPECT_EQ(ok.engine, "trtllm");
  EXPECT_TRUE(ok.workload.concurrency_max);
  EXPECT_FALSE(ok.workload.concurrency.has_value());

  const std::string missing = InputErrorOf(
      [] { ParseScenario(nlohmann::json::parse(R"({"gpu": "h100-sxm"})"), "s.json"); });
  EXPECT_TRUE(Contains(missing, "$.model")) << missing;
  const std::string bad_isl = InputErrorOf([] {
    ParseScenario(nlohmann::json::parse(R"({"model": "m", "gpu": "g", "workload": {"isl": "1k"}})"),
                  "s.json");
  });
  EXPECT_TRUE(Contains(bad_isl, "$.workload.isl")) << bad_isl;
  const std::string negative = InputErrorOf([] {
    ParseScenario(nlohmann::json::parse(R"({"model": "m", "gpu": "g", "workload": {"osl": -3}})"),
                  "s.json");
  });
  EXPECT_TRUE(Contains(negative, "$.workload.osl")) << negative;
  const std::string dtype = InputErrorOf([] {
    ParseScenario(nlohmann::json::parse(R"({"model": "m", "gpu": "g", "kv_dtype": "fp7"})"),
                  "s.json");
  });
  EXPECT_TRUE(Contains(dtype, "$.kv_dtype")) << dtype;
}

}  // namespace
}  // namespace roofplan

namespace roofplan {
namespace {

// A value nested a million deep is echoed as a short prefix: nlohmann's own
// dump() recurses once per level and overflowed the stack (fuzz F02).
TEST(JsonReader, DescribesDeeplyNestedValuesWithoutRecursingThroughThem) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  const nlohmann::json v = nlohmann::json::parse(deep);
  EXPECT_EQ(DescribeJson(v), std::string(37, '[') + "...");
  EXPECT_EQ(DescribeJson(nlohmann::json::parse(R"({"a": [1, 2], "b": "x"})")), R"({"a":[1,2],"b":"x"})");
}

// Parallel sizes past what any replica has fail with the path instead of
// wrapping to 0 (fuzz F01: tp = 2^33 became 0 and divided by it).
TEST(ScenarioBadInput, ParallelSizesAreBounded) {
  auto error = [](const std::string& json) {
    return InputErrorOf([&] { ParseScenario(nlohmann::json::parse(json), "s.json"); });
  };
  EXPECT_TRUE(Contains(error(R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "tp": 8589934592})"),
                       "s.json: $.tp: expected a positive integer of at most 4096, got 8589934592"));
  EXPECT_TRUE(Contains(error(R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "num_gpus": 2000000})"),
                       "$.num_gpus: expected a positive integer of at most 1048576"));
  // Integers are read through a double: past 2^53 they would wrap (F40).
  EXPECT_TRUE(Contains(error(R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "tp": 9223372036854775807})"),
                       "$.tp: expected a positive integer below 9e15, got 9223372036854775807"));
}

}  // namespace
}  // namespace roofplan
