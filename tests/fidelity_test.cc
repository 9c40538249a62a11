// The engine and hardware effects of issue 10, each against a hand-worked
// case: host time per sequence and its overlap with the GPU, the CUDA-graph
// capture limit, GPU-dependent engine defaults, preset inheritance, the
// busiest expert-parallel rank, the grouped-GEMM fraction; the public
// calibration file and the prior-regularised fit.
#include <cmath>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "calibrate/prior_fit.h"
#include "catalog/catalog.h"
#include "catalog/engine_preset.h"
#include "hardware/efficiency.h"
#include "hardware/interconnect.h"
#include "hardware/public_calibration.h"
#include "model/ops.h"
#include "memory/memory_plan.h"
#include "model/params.h"
#include "validation/measured_cases.h"
#include "perf/setup.h"
#include "perf/step_time.h"
#include "serving/steady_state.h"
#include "test_support.h"

namespace roofplan {
namespace {

StepTimeModel Llama8bOnH100(const EnginePreset& engine) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  return StepTimeModel(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan(), Precision(), engine,
                       DefaultEfficiency(gpu));
}

StepShape Decode(double batch) {
  StepShape s;
  s.decode_seqs = batch;
  s.decode_context = 1000;
  return s;
}

// Without overlap the host time adds: step_overhead + per_sequence x seqs.
TEST(EngineHostTime, AddsPerSequenceWithoutOverlap) {
  EnginePreset e = ResolveEngine("vllm");
  e.overlap_scheduling = false;
  e.step_overhead_us = 100;
  e.per_sequence_overhead_us = 0;
  const StepTime base = Llama8bOnH100(e).Step(Decode(64));
  e.per_sequence_overhead_us = 10;
  const StepTime with = Llama8bOnH100(e).Step(Decode(64));
  // 100 us + 64 x 10 us = 0.74 ms, against 0.1 ms.
  EXPECT_NEAR(with.overhead_ms, 0.74, 1e-12);
  EXPECT_NEAR(with.step_ms - base.step_ms, 0.64, 1e-12);
}

// With overlap a step takes max(GPU, host): host work shorter than the
// GPU's is hidden, longer shows only by its excess.
TEST(EngineHostTime, OverlapShowsOnlyTheExcess) {
  EnginePreset e = ResolveEngine("vllm");
  e.overlap_scheduling = true;
  e.step_overhead_us = 100;
  e.per_sequence_overhead_us = 0;
  const StepTime hidden = Llama8bOnH100(e).Step(Decode(64));
  EXPECT_EQ(hidden.overhead_ms, 0);  // 0.1 ms of host under a multi-ms GPU step
  const double gpu_ms = hidden.kernels_ms + hidden.gaps_ms;
  e.per_sequence_overhead_us = 1000;  // 64 ms of host time
  const StepTime shown = Llama8bOnH100(e).Step(Decode(64));
  EXPECT_NEAR(shown.step_ms, 0.1 + 64.0, 1e-9);
  EXPECT_NEAR(shown.overhead_ms, 64.1 - gpu_ms, 1e-9);
}

// A Python host's work takes the host CPU's factor longer: GB200's Grace
// dispatches a PyTorch op in 37.08 us where a Xeon 8480C takes 13.48 us
// (TransformerEngine issue 2053), so 100 us + 64 x 10 us of host time on
// an x86 host is 0.74 x 2.75 = 2.035 ms there. TensorRT-LLM's C++
// executor keeps the x86 figure.
TEST(EngineHostTime, PythonHostWorkScalesWithTheHostCpu) {
  const GpuSpec gb200 = ResolveGpu("gb200");
  EXPECT_EQ(gb200.host_cpu, "NVIDIA Grace (72 Arm Neoverse V2 cores)");
  EXPECT_DOUBLE_EQ(gb200.host_python_time_factor, 2.75);
  EXPECT_DOUBLE_EQ(ResolveGpu("b200").host_python_time_factor, 1.0);
  auto overhead_ms = [&](const char* engine_name, const char* gpu_name) {
    EnginePreset e = ResolveEngine(engine_name);
    e.overlap_scheduling = false;
    e.step_overhead_us = 100;
    e.per_sequence_overhead_us = 10;
    const GpuSpec gpu = ResolveGpu(gpu_name);
    return StepTimeModel(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan(), Precision(), e, DefaultEfficiency(gpu))
        .Step(Decode(64))
        .overhead_ms;
  };
  EXPECT_NEAR(overhead_ms("trtllm-1.0", "gb200"), 0.74 * 2.75, 1e-12);
  EXPECT_NEAR(overhead_ms("vllm", "gh200"), 0.74 * 2.46, 1e-12);
  EXPECT_NEAR(overhead_ms("trtllm-1.0", "b200"), 0.74, 1e-12);
  EXPECT_NEAR(overhead_ms("trtllm", "gb200"), 0.74, 1e-12);  // C++ executor
  EXPECT_EQ(ResolveEngine("trtllm").host_runtime, HostRuntime::kCpp);
  EXPECT_EQ(ResolveEngine("trtllm-1.2").host_runtime, HostRuntime::kPython);
  EXPECT_EQ(ResolveEngine("sglang").host_runtime, HostRuntime::kPython);
}

// TensorRT-LLM's PyTorch backend runs steps with prompt tokens without a
// CUDA graph, each kernel issued from PyTorch's dispatcher: a torch Linear
// forward takes 13.48 us of CPU on a DGX H100's Xeon and 37.08 us on a
// GB200's Grace (TransformerEngine issue 2053), so a kernel shorter than
// that waits for its launch. The TensorRT engines' C++ runtime launches
// in 2.5 us. One 16-token prompt of Llama-3.1-8B: every kernel is short,
// and each op's time is its kernels times the host's launch time.
TEST(EngineHostTime, EagerLaunchesFollowTheHostCpu) {
  auto norm_us_per_kernel = [](const char* engine_name, const char* gpu_name) {
    const GpuSpec gpu = ResolveGpu(gpu_name);
    StepTimeModel perf(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan(), Precision(), ResolveEngine(engine_name),
                       DefaultEfficiency(gpu));
    for (const OpTime& t : perf.Step(Prefill(16), true).ops) {
      if (std::string(t.op.name) == "norm") return t.time_us / (t.op.count * t.op.kernels);
    }
    return 0.0;
  };
  EXPECT_NEAR(norm_us_per_kernel("trtllm-1.0", "h100-sxm"), 13.48, 1e-9);
  EXPECT_NEAR(norm_us_per_kernel("trtllm-1.0", "gb200"), 13.48 * 2.75, 1e-9);
  EXPECT_NEAR(norm_us_per_kernel("trtllm-1.2", "b200"), 13.48, 1e-9);
  EXPECT_NEAR(norm_us_per_kernel("trtllm", "gb200"), 2.5, 1e-9);
}

// Pipeline parallelism: a step is one microbatch's trip through the
// stages, and every stage's process does that microbatch's host work. At
// pp 2 without overlap the trip carries the host time twice; with overlap
// each stage hides it behind its half of the GPU time and shows only the
// excess, twice.
TEST(EngineHostTime, EveryPipelineStageDoesTheHostWork) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  EnginePreset e = ResolveEngine("vllm");
  e.step_overhead_us = 100;
  e.per_sequence_overhead_us = 0;
  auto step = [&](const EnginePreset& engine) {
    return StepTimeModel(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan{1, 2, 1, 1}, Precision(), engine,
                         DefaultEfficiency(gpu))
        .Step(Decode(64));
  };
  e.overlap_scheduling = false;
  const StepTime serial = step(e);
  EXPECT_NEAR(serial.overhead_ms, 2 * 0.1, 1e-12);
  e.overlap_scheduling = true;
  e.per_sequence_overhead_us = 1000;  // 64.1 ms of host work per microbatch and stage
  const StepTime overlapped = step(e);
  const double gpu_ms = overlapped.kernels_ms + overlapped.gaps_ms;
  EXPECT_NEAR(overlapped.overhead_ms, 2 * (64.1 - gpu_ms / 2), 1e-9);
  EXPECT_NEAR(overlapped.step_ms, 2 * 64.1, 1e-9);
}

// A decode batch above the largest captured graph runs eagerly.
TEST(EngineHostTime, CudaGraphCaptureLimit) {
  EnginePreset e = ResolveEngine("vllm");
  e.cuda_graph_max_batch = 512;
  const StepTimeModel perf = Llama8bOnH100(e);
  EXPECT_TRUE(perf.Step(Decode(512)).cuda_graph);
  EXPECT_FALSE(perf.Step(Decode(513)).cuda_graph);
  e.cuda_graph_max_batch = 0;  // no limit
  EXPECT_TRUE(Llama8bOnH100(e).Step(Decode(4096)).cuda_graph);
}

// TensorRT-LLM 1.0 does not split prompts (enable_chunked_prefill off):
// one longer than max_num_tokens (8192) is refused, by the estimate, the
// simulator and the CLI alike, with the way out named.
TEST(EngineHostTime, UnsplitLongPromptsAreRefused) {
  const EnginePreset trtllm = ResolveEngine("trtllm-1.0");
  EXPECT_FALSE(trtllm.splits_long_prompts);
  EXPECT_EQ(trtllm.PromptRefusal(8192), "");
  const std::string why = trtllm.PromptRefusal(8193);
  EXPECT_NE(why.find("8193"), std::string::npos) << why;
  EXPECT_NE(why.find("splits_long_prompts"), std::string::npos) << why;
  EXPECT_EQ(ResolveEngine("vllm").PromptRefusal(100000), "");  // V1 chunks any prompt
  const Estimate refused = EstimateSteadyState(Llama8bOnH100(trtllm), Workload{9000, 100, 1, std::nullopt}, std::nullopt);
  EXPECT_FALSE(refused.fits);
  EXPECT_EQ(refused.fit_note, trtllm.PromptRefusal(9000));
  EXPECT_TRUE(EstimateSteadyState(Llama8bOnH100(trtllm), Workload{8000, 100, 1, std::nullopt}, std::nullopt).fits);
}

// TensorRT-LLM pads a decode batch of 300 to its 384 graph: the GEMMs
// compute 384 rows, attention reads the cache of the 300 real sequences.
TEST(EngineHostTime, CudaGraphPaddingPadsGemmsNotAttention) {
  EnginePreset e = ResolveEngine("trtllm-1.0");
  ASSERT_FALSE(e.cuda_graph_batch_sizes.empty());
  auto ops_of = [&](const EnginePreset& engine) {
    std::map<std::string, OpTime> out;
    for (const OpTime& t : Llama8bOnH100(engine).Step(Decode(300), true).ops) out[t.op.name] = t;
    return out;
  };
  auto padded = ops_of(e);
  e.cuda_graph_batch_sizes.clear();
  auto plain = ops_of(e);
  EXPECT_EQ(padded["qkv_proj"].op.m, 384);
  EXPECT_EQ(plain["qkv_proj"].op.m, 300);
  EXPECT_EQ(padded["attention_decode"].op.bytes, plain["attention_decode"].op.bytes);
}

// vLLM's online-serving defaults: 8192 tokens and 1024 sequences on GPUs of
// >= 70 GiB that are not A100s, 2048 and 256 elsewhere; 0.8 had 2048/256
// everywhere.
TEST(EnginePresets, VllmBatchDefaultsFollowTheGpu) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.engine = "vllm";
  s.gpu = "h100-sxm";
  roofplan::Setup h100 = ResolveScenario(s);
  EXPECT_EQ(h100.engine.max_num_batched_tokens, 8192);
  EXPECT_EQ(h100.engine.max_num_seqs, 1024);
  s.gpu = "a100-80gb-sxm";
  roofplan::Setup a100 = ResolveScenario(s);
  EXPECT_EQ(a100.engine.max_num_batched_tokens, 2048);
  EXPECT_EQ(a100.engine.max_num_seqs, 256);
  s.gpu = "l40s";  // 48 GB
  EXPECT_EQ(ResolveScenario(s).engine.max_num_batched_tokens, 2048);
  s.gpu = "h100-sxm";
  s.engine = "vllm-0.8";
  EXPECT_EQ(ResolveScenario(s).engine.max_num_batched_tokens, 2048);
  // A scenario's own value wins over the GPU rule.
  s.engine = "vllm";
  s.engine_overrides = {{"max_num_batched_tokens", 4096}};
  EXPECT_EQ(ResolveScenario(s).engine.max_num_batched_tokens, 4096);
}

TEST(EnginePresets, VersionPresetsInheritTheirBase) {
  const EnginePreset base = ResolveEngine("vllm");
  const EnginePreset v15 = ResolveEngine("vllm-0.15");
  EXPECT_EQ(v15.name, "vllm-0.15");
  EXPECT_TRUE(v15.overlap_scheduling);  // async scheduling default since 0.14
  EXPECT_FALSE(base.overlap_scheduling);
  EXPECT_EQ(v15.kv_block_tokens, base.kv_block_tokens);
  EXPECT_EQ(EngineScope(v15), "vllm");
  EXPECT_EQ(EngineScope(ResolveEngine("trtllm-1.0")), "trtllm-pytorch");
  // trtllm-1.0 keeps the kernels and block size of the trtllm preset it
  // is based on, and adds the Python executor's overlap.
  EXPECT_EQ(ResolveEngine("trtllm-1.0").kv_block_tokens, ResolveEngine("trtllm").kv_block_tokens);
  EXPECT_TRUE(ResolveEngine("trtllm-1.0").overlap_scheduling);
  EXPECT_FALSE(ResolveEngine("trtllm").overlap_scheduling);
}

TEST(EnginePresets, BasedOnMustNameACatalogPreset) {
  const std::string path = WriteTemp("e.json", R"({"based_on": "/tmp/x.json"})");
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { ResolveEngine(path); }), "$.based_on"));
  const std::string rules = WriteTemp("r.json", R"({"gpu_defaults": {"min_memory_gib": 1}})");
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { ResolveEngine(rules); }), "$.gpu_defaults"));
}

// 1000 assignments over 4 ranks: mean 250, sd sqrt(1000 x 1/4 x 3/4) =
// 13.693, sqrt(2 ln 4) = 1.6651: the busiest rank gets about 272.8.
TEST(MoeLoad, BusiestRankOfUniformRouting) {
  EXPECT_NEAR(BusiestRankAssignments(1000, 4), 250 + 13.693 * 1.6651, 0.01);
  EXPECT_EQ(BusiestRankAssignments(1000, 1), 1000);
  // Few assignments: never more than all of them.
  EXPECT_LE(BusiestRankAssignments(2, 64), 2);
  // The excess over the mean shrinks relative to it as the batch grows.
  EXPECT_LT(BusiestRankAssignments(1e6, 8) / 1.25e5, BusiestRankAssignments(1e3, 8) / 125);
}

// The router's skew adds to the sampling spread. Qwen3-235B-A22B (128
// experts, top 8) under attention DP over 8 ranks, 1544 tokens in the
// replica: 12352 assignments, mean 1544 per rank, sampling variance
// 12352 x 1/8 x 7/8 = 1351; with experts' shares at CV 0.6 a rank's 16
// experts carry relative sd 0.6 x sqrt(7 / 128) = 0.14031, 216.64
// assignments; sd sqrt(1351 + 216.64^2) = 219.74, and the busiest of 8 is
// about 1544 + 219.74 x sqrt(2 ln 8) = 1992.1 (1619.0 without the skew).
TEST(MoeLoad, RouterSkewLoadsTheBusiestRank) {
  EXPECT_NEAR(BusiestRankAssignments(12352, 8, 128, 0.6), 1992.12, 0.01);
  EXPECT_NEAR(BusiestRankAssignments(12352, 8, 128, 0), 1618.96, 0.01);
  EXPECT_EQ(BusiestRankAssignments(12352, 8, 128, 0), BusiestRankAssignments(12352, 8));
  // One expert per rank: the rank carries its expert's whole skew.
  const double mean = 1000.0 / 8;
  EXPECT_NEAR(BusiestRankAssignments(1000, 8, 8, 0.5),
              mean + std::sqrt(1000.0 / 8 * 7 / 8 + std::pow(mean * 0.5 * std::sqrt(7.0 / 8), 2)) *
                         std::sqrt(2 * std::log(8.0)),
              1e-9);
  // Without expert parallelism every GPU sees every expert's tokens.
  EXPECT_EQ(BusiestRankAssignments(12352, 1, 128, 0.6), 12352);
}

// The expert GEMMs of an attention-DP replica compute the busiest rank's
// rows: their FLOPs scale with BusiestRankAssignments; attention does not
// see the skew.
TEST(MoeLoad, ExpertComputeFollowsTheBusiestRank) {
  StepShape decode;
  decode.decode_seqs = 1544;
  decode.decode_context = 1100;
  auto flops = [&](double cv) {
    EnginePreset engine = ResolveEngine("trtllm-1.0");
    engine.expert_load_cv = cv;
    std::vector<Op> ops;
    BuildStepOps(ResolveModel("qwen3-235b-a22b"), ParallelPlan{1, 1, 8, 1}, Precision(), engine, decode, &ops);
    std::map<std::string, double> by_name;
    for (const Op& op : ops) by_name[op.name] += op.flops * op.count;
    return by_name;
  };
  const auto skewed = flops(0.6), even = flops(0);
  EXPECT_NEAR(skewed.at("expert_gate_up") / even.at("expert_gate_up"), 1992.12 / 1618.96, 1e-4);
  EXPECT_NEAR(skewed.at("expert_down") / even.at("expert_down"), 1992.12 / 1618.96, 1e-4);
  EXPECT_EQ(skewed.at("attention_decode"), even.at("attention_decode"));
}

TEST(EnginePresets, ExpertLoadCvIsRangeChecked) {
  EXPECT_EQ(ResolveEngine("vllm").expert_load_cv, 0.5);
  const std::string balanced = WriteTemp("eplb.json", R"({"based_on": "sglang", "expert_load_cv": 0.05})");
  EXPECT_EQ(ResolveEngine(balanced).expert_load_cv, 0.05);
  const std::string bad = WriteTemp("bad_cv.json", R"({"expert_load_cv": -1})");
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { ResolveEngine(bad); }),
                       "$.expert_load_cv: expected a number in [0, 8], got -1"));
}

// Wide EP over all-to-all (DeepEP-style, moe_all_to_all): the dispatch
// buffer of a rank is its tokens x top-k rows of hidden size.
// Mixtral-8x7B (hidden 4096, top-2), tp 1, ep 8 (attention data parallel),
// 512 decodes in the replica, 64 per rank, in bf16: 64 x 2 x 4096 x 2 bytes =
// 1,048,576 bytes per layer; the combine returns the same rows in bf16.
TEST(MoeLoad, AllToAllBufferIsEveryRoutedRowOfTheRank) {
  std::vector<Op> ops;
  StepShape decode;
  decode.decode_seqs = 512;
  decode.decode_context = 1000;
  EnginePreset engine = ResolveEngine("vllm");
  engine.moe_all_to_all = true;
  BuildStepOps(ResolveModel("mixtral-8x7b"), ParallelPlan{1, 1, 8, 1}, Precision(), engine, decode, &ops);
  int found = 0;
  for (const Op& op : ops) {
    if (std::string(op.name) == "moe_dispatch" || std::string(op.name) == "moe_combine") {
      EXPECT_DOUBLE_EQ(op.bytes, 64.0 * 2 * 4096 * 2) << op.name;
      EXPECT_EQ(op.ranks, 8);
      EXPECT_EQ(op.count, 32);
      ++found;
    }
  }
  EXPECT_EQ(found, 2);
}

// Wide EP by the engines' default exchange: every rank all-gathers the
// replica's hidden states and reduce-scatters the outputs. Same Mixtral
// replica: 512 tokens x 4096 x 2 bytes (bf16) = 4,194,304 bytes gathered
// per layer, and as many reduce-scattered; no all-to-all. On H100 NVLink
// (450 GB/s one way, x the collective bandwidth fraction) the gather
// moves 7/8 of it in 7 ring steps.
TEST(MoeLoad, AllGatherAndReduceScatterCarryTheWholeReplica) {
  std::vector<Op> ops;
  StepShape decode;
  decode.decode_seqs = 512;
  decode.decode_context = 1000;
  const EnginePreset engine = ResolveEngine("trtllm-1.0");
  ASSERT_FALSE(engine.moe_all_to_all);
  BuildStepOps(ResolveModel("mixtral-8x7b"), ParallelPlan{1, 1, 8, 1}, Precision(), engine, decode, &ops);
  std::map<std::string, const Op*> by_name;
  for (const Op& op : ops) by_name[op.name] = &op;
  EXPECT_EQ(by_name.count("moe_dispatch"), 0u);
  EXPECT_EQ(by_name.count("moe_combine"), 0u);
  ASSERT_EQ(by_name.count("moe_all_gather"), 1u);
  ASSERT_EQ(by_name.count("moe_reduce_scatter"), 1u);
  const Op& gather = *by_name["moe_all_gather"];
  const Op& scatter = *by_name["moe_reduce_scatter"];
  EXPECT_DOUBLE_EQ(gather.bytes, 512.0 * 4096 * 2);
  EXPECT_DOUBLE_EQ(scatter.bytes, 512.0 * 4096 * 2);
  EXPECT_EQ(gather.collective, Collective::kAllGather);
  EXPECT_EQ(scatter.collective, Collective::kReduceScatter);
  EXPECT_EQ(gather.ranks, 8);
  EXPECT_EQ(gather.count, 32);

  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const Efficiency e = DefaultEfficiency(gpu);
  const Link link = LinkFor(gpu, Network(), 8);
  const double expected_us = 7.0 / 8 * 512 * 4096 * 2 / (link.gb_per_s * e.collective_bandwidth_fraction * 1e3) +
                             7 * std::max(link.latency_us, e.collective_step_latency_us) + e.min_kernel_us;
  EXPECT_NEAR(CollectiveTimeUs(Collective::kReduceScatter, scatter.bytes, 8, link, e), expected_us, 1e-9);
  EXPECT_NEAR(CollectiveTimeUs(Collective::kAllGather, gather.bytes, 8, link, e), expected_us, 1e-9);
}

// A ring over the PCIe of one host gets what the CPUs' root complexes and
// memory carry for every GPU's flow at once (NVIDIA/nccl issue 1639: 35 GB/s
// bus bandwidth on 4 and 28 GB/s on 8 PCIe Gen5 x16 GPUs). With the default
// protocol fraction 0.8 the model gives those bus bandwidths back on the
// RTX PRO 6000 (Gen5), and the same shares of the L40S's Gen4 link; two
// GPUs get the whole 32 GB/s.
TEST(PcieCollectives, RingBandwidthIsTheHostsShare) {
  const GpuSpec rtx = ResolveGpu("rtx-pro-6000");
  const GpuSpec l40s = ResolveGpu("l40s");
  const double protocol = Efficiency().collective_bandwidth_fraction;
  ASSERT_DOUBLE_EQ(protocol, 0.8);
  EXPECT_STREQ(LinkFor(rtx, Network(), 8).name, "pcie");
  EXPECT_NEAR(LinkFor(rtx, Network(), 8).gb_per_s * protocol, 28.0, 1e-9);
  EXPECT_NEAR(LinkFor(rtx, Network(), 4).gb_per_s * protocol, 35.0, 1e-9);
  EXPECT_NEAR(LinkFor(l40s, Network(), 8).gb_per_s, 32 * 28.0 / 64 / 0.8, 1e-9);  // 17.5
  EXPECT_NEAR(LinkFor(l40s, Network(), 4).gb_per_s, 32 * 35.0 / 64 / 0.8, 1e-9);  // 21.875
  EXPECT_NEAR(LinkFor(l40s, Network(), 2).gb_per_s, 32.0, 1e-9);
  // A 64 MiB all-reduce over 8 L40S: 2 x 7/8 of it at 14 GB/s, plus 14
  // steps of the 3 us PCIe latency and the smallest kernel.
  const Efficiency e;
  const double bytes = 64.0 * 1024 * 1024;
  EXPECT_NEAR(CollectiveTimeUs(Collective::kAllReduce, bytes, 8, LinkFor(l40s, Network(), 8), e),
              2 * 7.0 / 8 * bytes / 14e3 + 14 * 3.0 + e.min_kernel_us, 1e-6);
  // NVLink is untouched: H100's ring runs at half its 900 GB/s.
  EXPECT_DOUBLE_EQ(LinkFor(ResolveGpu("h100-sxm"), Network(), 8).gb_per_s, 450.0);
}

// Under attention DP the engines deal new requests to the least-loaded
// rank, so a step's prompts spread evenly and the step waits for the rank
// with ceil(prompts / ranks) of them. Mixtral-8x7B on DEP8 (tp 1, ep 8),
// prompts of 1000 tokens: 8 prompts put one on every rank, 9 put two on
// one, and one prompt alone is still a whole prompt on its rank. qkv_proj
// per rank is 2 x tokens x 4096 x (4096 + 2 x 1024) flops a layer.
TEST(MoeLoad, PromptsSpreadEvenlyOverAttentionRanks) {
  const EnginePreset engine = ResolveEngine("trtllm-1.0");
  auto qkv_flops = [&](double prompts) {
    StepShape s;
    s.prefill_seqs = prompts;
    s.prefill_tokens = 1000;
    std::vector<Op> ops;
    BuildStepOps(ResolveModel("mixtral-8x7b"), ParallelPlan{1, 1, 8, 1}, Precision(), engine, s, &ops);
    for (const Op& op : ops) {
      if (std::string(op.name) == "qkv_proj") return op.flops;
    }
    return 0.0;
  };
  const double one_prompt = 2.0 * 1000 * 4096 * (4096 + 2 * 1024);
  EXPECT_DOUBLE_EQ(qkv_flops(1), one_prompt);
  EXPECT_DOUBLE_EQ(qkv_flops(8), one_prompt);
  EXPECT_DOUBLE_EQ(qkv_flops(9), 2 * one_prompt);
  EXPECT_DOUBLE_EQ(qkv_flops(16), 2 * one_prompt);
}

// Expert GEMMs run at the grouped fraction of the dense GEMM rate.
TEST(MoeLoad, GroupedGemmFractionScalesExpertCompute) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  Efficiency e = DefaultEfficiency(gpu);
  auto expert_compute_us = [&](double fraction) {
    e.moe_grouped_gemm_fraction = fraction;
    StepTimeModel perf(ResolveModel("mixtral-8x7b"), gpu, ParallelPlan{2, 1, 1, 1}, Precision(),
                       ResolveEngine("vllm"), e);
    StepShape prefill;
    prefill.prefill_seqs = 4;
    prefill.prefill_tokens = 2048;
    for (const OpTime& t : perf.Step(prefill, true).ops) {
      if (std::string(t.op.name) == "expert_gate_up") return t.compute_us;
    }
    return 0.0;
  };
  const double full = expert_compute_us(1.0);
  ASSERT_GT(full, 0);
  EXPECT_NEAR(expert_compute_us(0.5) / full, 2.0, 1e-9);
}

// CUTLASS grouped GEMMs fill whole tiles of rows per expert: 33 rows of an
// expert run in a 128-row tile for NVFP4 on Blackwell (a quarter of it
// used), in a 64-row tile otherwise, where a small-row kernel pads them to
// 8 (40 rows). 16 experts of N = 8192 on 148 SMs: 1 x 64 x 16 = 1024 tiles,
// 7 waves, 1024 / 1036 of the last wave used.
TEST(MoeLoad, CutlassExpertRowsFillWholeTiles) {
  const double waves = 1024.0 / (7 * 148);
  EXPECT_NEAR(GemmWaveEfficiency(33, 8192, 16, 148, 128), waves * 33 / 128, 1e-12);
  EXPECT_NEAR(GemmWaveEfficiency(33, 8192, 16, 148, 64), waves * 33 / 64, 1e-12);
  EXPECT_NEAR(GemmWaveEfficiency(33, 8192, 16, 148), waves * 33 / 40, 1e-12);
  // An average that lands a hair above a whole tile (512 tokens over the
  // 15.99999999999993 experts a batch that size hits) is still one tile.
  EXPECT_NEAR(GemmWaveEfficiency(64 * (1 + 1e-14), 8192, 16, 148, 64), waves * (1 + 1e-14), 1e-12);
}

// Experts' counts spread around their mean, and each expert pads its own.
// 64 rows on average with sd 8 in 64-row tiles: every expert fills one
// tile and half of them spill into a second (P(rows > 64) = 1/2, P(rows >
// 128) ~ 1e-15): 1.5 tiles, 96 rows computed for 64. A spread wider than
// half a tile leaves a uniform remainder: 1000 rows, sd 200, 64-row tiles
// pad to 1032.
TEST(MoeLoad, ExpertsPadTheirOwnRows) {
  const double waves = 1024.0 / (7 * 148);
  EXPECT_NEAR(GemmWaveEfficiency(64, 8192, 16, 148, 64, 8), waves * 64 / 96, 1e-9);
  const double big_tiles = std::ceil(1000 / 128.0) * 64 * 16;  // 8 x 64 x 16 = 8192
  const double big_waves = big_tiles / (std::ceil(big_tiles / 148) * 148);
  EXPECT_NEAR(GemmWaveEfficiency(1000, 8192, 16, 148, 64, 200), big_waves * 1000 / 1032, 1e-9);

  // The experts' sd is binomial plus the router's skew: Llama-4 Scout (16
  // experts, top 1) decoding 512 sequences (a captured CUDA-graph size)
  // gives each expert 32 rows, sd sqrt(32 + (0.5 x 32)^2) = 16.971 at
  // expert_load_cv 0.5, sqrt(32) = 5.657 without skew.
  auto expert_rows_sd = [](double cv) {
    EnginePreset engine = ResolveEngine("trtllm-1.0");
    engine.expert_load_cv = cv;
    StepShape decode;
    decode.decode_seqs = 512;
    decode.decode_context = 1000;
    std::vector<Op> ops;
    BuildStepOps(ResolveModel("llama-4-scout"), ParallelPlan{1, 1, 1, 1}, Precision(), engine, decode, &ops);
    for (const Op& op : ops) {
      if (std::string(op.name) == "expert_down") return op.rows_sd;
    }
    return -1.0;
  };
  EXPECT_NEAR(expert_rows_sd(0.5), std::sqrt(32.0 + 256.0), 1e-6);
  EXPECT_NEAR(expert_rows_sd(0), std::sqrt(32.0), 1e-6);
}

// Memory bound, a grouped GEMM adds a fill time to each expert's slice.
// Qwen3-235B-A22B at tp 8 in bf16 on A100 80GB: each expert's gate+up slice
// is 4096 x (2 x 1536 / 8) x 2 bytes = 3 MiB, 1.714 us at 90% of 2039 GB/s;
// with a 0.5 us fill it takes 2.214 us. Mixtral-8x7B at tp 2 holds
// 4096 x (2 x 14336 / 2) x 2 bytes = 112 MiB slices (64.0 us): the same
// fill adds under 1%.
TEST(MoeLoad, SmallExpertSlicesStreamBelowTheDenseRate) {
  const GpuSpec gpu = ResolveGpu("a100-80gb-sxm");
  auto gate_up_memory_us = [&](const char* model, int tp, double fill_us) {
    Efficiency e = DefaultEfficiency(gpu);
    e.grouped_gemm_slice_fill_us_triton = fill_us;
    StepTimeModel perf(ResolveModel(model), gpu, ParallelPlan{tp, 1, 1, 1}, Precision(), ResolveEngine("vllm"), e);
    StepShape decode;
    decode.decode_seqs = 64;
    decode.decode_context = 1000;
    for (const OpTime& t : perf.Step(decode, true).ops) {
      if (std::string(t.op.name) == "expert_gate_up") {
        EXPECT_TRUE(t.op.grouped);
        return t.memory_us;
      }
    }
    return 0.0;
  };
  const double rate_bytes_per_us = gpu.memory_bandwidth_gb_per_s * 1e3 * DefaultEfficiency(gpu).memory_bandwidth_fraction;
  const double qwen_slice_us = 3.0 * 1024 * 1024 / rate_bytes_per_us;
  EXPECT_NEAR(qwen_slice_us, 1.714, 0.001);
  const double qwen_dense = gate_up_memory_us("qwen3-235b-a22b", 8, 0);
  ASSERT_GT(qwen_dense, 0);
  EXPECT_NEAR(gate_up_memory_us("qwen3-235b-a22b", 8, 0.5) / qwen_dense, (qwen_slice_us + 0.5) / qwen_slice_us, 1e-9);
  const double mixtral_slice_us = 112.0 * 1024 * 1024 / rate_bytes_per_us;
  const double mixtral_dense = gate_up_memory_us("mixtral-8x7b", 2, 0);
  ASSERT_GT(mixtral_dense, 0);
  EXPECT_NEAR(gate_up_memory_us("mixtral-8x7b", 2, 0.5) / mixtral_dense, (mixtral_slice_us + 0.5) / mixtral_slice_us, 1e-9);
  EXPECT_LT((mixtral_slice_us + 0.5) / mixtral_slice_us, 1.01);
}

// vLLM's fused-MoE kernels size their row block for tokens x top_k / local
// experts. Under --enable-expert-parallel without data parallelism each
// rank holds a quarter of the experts but is handed the whole batch, so it
// pads each expert's ~16 rows to 64 where tp 4 pads them to 32. The
// gpustack runs of Qwen3-235B-A22B-FP8 on 4 A100s (vLLM 0.11, weight-only
// FP8 through Marlin) measured tp 4 at 1428 output tok/s and tp 4 ep 4 at
// 1333, and GLM-4.6-FP8 on 8 at 1345 against 1306: expert parallelism is
// the slower there. (Priced per expert slice alone, ep 4 came out 38% faster.)
TEST(MoeLoad, ExpertParallelRanksPadForTheWholeBatch) {
  auto decode_ms = [](int ep) {
    const roofplan::Setup setup = ResolveScenario(DeploymentScenario(
        "qwen3-235b-a22b", "a100-80gb-sxm", 4, 1, ep, DType::kFp8, DType::kBf16, "vllm-0.11"));
    return setup.MakeStepTimeModel().Step(Decode(256)).step_ms;
  };
  const double tp = decode_ms(1), ep = decode_ms(4);
  // At this shape the padded rows make ep 4's experts compute bound: 99.5
  // against 136.7 ms a step with the fitted parameters (the whole runs,
  // prompts and all, replay within 10% of each other).
  EXPECT_GT(ep, tp);
  EXPECT_LT(ep, 1.5 * tp);
}

// The attention ops of one step of `m` on one GPU, in build order.
std::vector<Op> AttentionOps(const ModelConfig& m, const EnginePreset& e, const StepShape& shape) {
  std::vector<Op> ops, out;
  BuildStepOps(m, ParallelPlan{1, 1, 1, 1}, Precision(), e, shape, &ops);
  for (const Op& op : ops) {
    if (op.kind == OpKind::kAttentionPrefill || op.kind == OpKind::kAttentionDecode) out.push_back(op);
  }
  return out;
}

// TensorRT-LLM's PyTorch backend limits Llama-4's chunked layers to their
// 8192-token chunk for prompt tokens only. A 20000-token prompt: the 36
// chunked layers of Scout see 2 x 8192 x 8193 / 2 + 3616 x 3617 / 2 =
// 73,656,592 keys per head instead of 20000 x 20001 / 2 = 200,010,000; the
// 12 global layers and every decode step keep the full window.
TEST(ChunkedAttention, PromptTokensOnlyUnderTensorRtLlm) {
  const ModelConfig m = ResolveModel("llama-4-scout");
  EnginePreset engine = ResolveEngine("trtllm-1.0");
  ASSERT_TRUE(engine.chunked_attention_prefill);
  ASSERT_FALSE(engine.sliding_window_attention);
  auto attention_ops = [&](const EnginePreset& e, const StepShape& shape) {
    std::map<double, Op> by_layers;  // 36 chunked layers, 12 global ones
    for (const Op& op : AttentionOps(m, e, shape)) by_layers[op.count] = op;
    return by_layers;
  };
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = 20000;
  auto chunked = attention_ops(engine, prefill);
  engine.chunked_attention_prefill = false;
  auto full = attention_ops(engine, prefill);
  ASSERT_EQ(chunked.count(36), 1u);
  ASSERT_EQ(chunked.count(12), 1u);
  EXPECT_NEAR(chunked[36].flops / full[36].flops, 73656592.0 / 200010000.0, 1e-12);
  EXPECT_DOUBLE_EQ(chunked[12].flops, full[12].flops);
  StepShape decode;
  decode.decode_seqs = 8;
  decode.decode_context = 20000;
  engine.chunked_attention_prefill = true;
  auto decode_chunked = attention_ops(engine, decode);
  engine.chunked_attention_prefill = false;
  auto decode_full = attention_ops(engine, decode);
  EXPECT_DOUBLE_EQ(decode_chunked[36].bytes, decode_full[36].bytes);
}

// TensorRT-LLM's PyTorch backend passes gpt-oss's 128-token window to the
// attention op of every other layer while its KV cache keeps every token.
// A 2048-token prompt: each query of a sliding layer sees min(i, 128) keys,
// 128 x 129 / 2 + 1920 x 128 = 254,016 per head, against 2048 x 2049 / 2 =
// 2,098,176 on a full layer; a decode step at 4000 tokens reads 128 of them
// on a sliding layer. The cache, and so the KV budget, stays full-length.
TEST(SlidingWindow, KernelsHonourItWhereTheCacheKeepsEveryToken) {
  const ModelConfig m = ResolveModel("gpt-oss-120b");
  EnginePreset engine = ResolveEngine("trtllm-1.0");
  ASSERT_TRUE(engine.sliding_window_kernels);
  ASSERT_FALSE(engine.sliding_window_attention);
  // The 18 sliding layers' op, then the 18 full ones'.
  auto attention_ops = [&](const EnginePreset& e, const StepShape& shape) { return AttentionOps(m, e, shape); };
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = 2048;
  const auto windowed = attention_ops(engine, prefill);
  ASSERT_EQ(windowed.size(), 2u);
  EXPECT_EQ(windowed[0].count, 18);
  EXPECT_NEAR(windowed[0].flops / windowed[1].flops, 254016.0 / 2098176.0, 1e-12);
  StepShape decode;
  decode.decode_seqs = 8;
  decode.decode_context = 4000;
  const auto decode_windowed = attention_ops(engine, decode);
  ASSERT_EQ(decode_windowed.size(), 2u);
  EXPECT_LT(decode_windowed[0].bytes, 0.1 * decode_windowed[1].bytes);
  engine.sliding_window_kernels = false;
  const auto full = attention_ops(engine, prefill);
  EXPECT_DOUBLE_EQ(full[0].flops, full[1].flops);
  Precision bf16;
  EXPECT_FALSE(PlanMemory(m, ResolveGpu("h200"), ParallelPlan{1, 1, 1, 1}, bf16, ResolveEngine("trtllm-1.0"))
                   .sliding_window_attention);
}

// Weight-only quantized GEMMs (Marlin-class W4A16): a compute-bound
// prefill GEMM runs at dequant_gemm_peak_fraction of the 16-bit peak, a
// memory-bound decode GEMM streams the packed weights.
TEST(DequantGemm, ComputeAtTheDequantFractionMemoryAtThePackedBytes) {
  const GpuSpec gpu = ResolveGpu("a100-80gb-sxm");
  const Efficiency e = DefaultEfficiency(gpu);
  auto gate_up = [&](DType weight, const StepShape& shape) {
    Precision p;
    p.weight = p.expert_weight = weight;
    p.activation = DType::kBf16;
    StepTimeModel perf(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan{1, 1, 1, 1}, p,
                       ResolveEngine("vllm"), e);
    for (const OpTime& t : perf.Step(shape, true).ops) {
      if (std::string(t.op.name) == "gate_up_proj") return t;
    }
    return OpTime();
  };
  // One 4096-token prompt: gate_up is 2 x 4096 x 28672 x 4096 = 962 GFLOP
  // per layer, compute bound either way; int4 runs it at 0.45 of the peak
  // where bf16 runs at 0.75 (same shape, same wave efficiency): 0.75 / 0.45.
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = 4096;
  const OpTime bf16 = gate_up(DType::kBf16, prefill), int4 = gate_up(DType::kInt4, prefill);
  EXPECT_DOUBLE_EQ(bf16.op.flops, 2.0 * 4096 * 28672 * 4096);
  EXPECT_FALSE(bf16.op.dequantizes_weights);
  EXPECT_TRUE(int4.op.dequantizes_weights);
  EXPECT_STREQ(int4.bound, "compute");
  EXPECT_NEAR(int4.compute_us / bf16.compute_us, 0.75 / 0.45, 1e-9);
  // Decoding 8 sequences: memory bound on the packed int4 weights (0.5 B
  // plus a 2-byte scale per 128), as before.
  StepShape decode;
  decode.decode_seqs = 8;
  decode.decode_context = 1000;
  const OpTime w4 = gate_up(DType::kInt4, decode);
  EXPECT_STREQ(w4.bound, "memory");
  EXPECT_DOUBLE_EQ(w4.op.weight_bytes, 28672.0 * 4096 * (0.5 + 2.0 / 128));
  // Native formats do not dequantize: fp8 weights under fp8 math (Hopper).
  Precision fp8;
  fp8.weight = fp8.expert_weight = fp8.activation = DType::kFp8;
  std::vector<Op> ops;
  BuildStepOps(ResolveModel("llama-3.1-8b"), ParallelPlan{1, 1, 1, 1}, fp8, ResolveEngine("vllm"),
               prefill, &ops);
  for (const Op& op : ops) {
    if (op.kind == OpKind::kGemm) EXPECT_FALSE(op.dequantizes_weights) << op.name;
  }
}

TEST(PublicCalibration, AppliesByScope) {
  const std::string path = WriteTemp("fitted.json", R"({"parameters": [
    {"name": "memory_bandwidth_fraction", "scope": "blackwell", "value": 0.7},
    {"name": "memory_bandwidth_fraction", "scope": "hopper", "value": 0.85},
    {"name": "per_sequence_overhead_us", "scope": "vllm", "value": 33},
    {"name": "step_overhead_us", "scope": "*", "value": 7}]})");
  const PublicCalibration c = LoadPublicCalibration(path);
  Efficiency e = DefaultEfficiency(ResolveGpu("h100-sxm"));
  EnginePreset engine = ResolveEngine("vllm-0.11");
  ApplyPublicCalibration(c, "hopper", &e, &engine);
  EXPECT_EQ(e.memory_bandwidth_fraction, 0.85);
  EXPECT_EQ(engine.per_sequence_overhead_us, 33);  // vllm-0.11's scope is vllm
  EXPECT_EQ(engine.step_overhead_us, 7);
  EnginePreset sglang = ResolveEngine("sglang");
  const double before = sglang.per_sequence_overhead_us;
  ApplyPublicCalibration(c, "hopper", &e, &sglang);
  EXPECT_EQ(sglang.per_sequence_overhead_us, before);

  // Through a scenario; "none" keeps the documented values.
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "b200";
  s.engine = "vllm";
  s.public_calibration = path;
  EXPECT_EQ(ResolveScenario(s).efficiency.memory_bandwidth_fraction, 0.7);
  s.public_calibration = "none";
  EXPECT_EQ(ResolveScenario(s).efficiency.memory_bandwidth_fraction, 0.8);
}

TEST(PublicCalibration, BadFilesNameThePath) {
  const std::string unknown = WriteTemp("u.json", R"({"parameters": [{"name": "speed", "scope": "*", "value": 1}]})");
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { LoadPublicCalibration(unknown); }),
                       "$.parameters[0].name"));
  const std::string range = WriteTemp("r.json", R"({"parameters": [{"name": "memory_bandwidth_fraction",
      "scope": "*", "value": 1.5, "min": 0.3, "max": 0.98}]})");
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { LoadPublicCalibration(range); }),
                       "$.parameters[0].value"));
}

// The fit recovers known parameters from synthetic rows y = a x + b with
// noise-free data, and keeps a parameter no row sees at its prior.
TEST(PriorFit, RecoversKnownParameters) {
  const double a = 3.0, b = 20.0;
  std::vector<double> x, y;
  for (int i = 1; i <= 40; ++i) {
    x.push_back(i);
    y.push_back(a * x.back() + b);
  }
  PriorFitProblem p;
  // Weak priors (sd 3 in log) a factor 1.5 and 2 off the truth.
  p.parameters = {{"a", 2.0, 3.0, 0.01, 100}, {"b", 10.0, 3.0, 0.1, 1000}, {"unseen", 0.5, 0.2, 0.1, 0.9}};
  p.rows = x.size();
  p.max_iterations = 60;
  p.log_ratios = [&](const std::vector<double>& v, std::vector<double>* out) {
    out->resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) (*out)[i] = std::log((v[0] * x[i] + v[1]) / y[i]);
  };
  const PriorFitResult r = FitWithPriors(p);
  // The priors pull by (log(v/prior)/sd)^2 against 40 exact rows: the
  // answer moves by about 1% (b, which only the small-x rows see) or less.
  EXPECT_NEAR(r.values[0], a, 0.01 * a);
  EXPECT_NEAR(r.values[1], b, 0.03 * b);
  EXPECT_NEAR(r.values[2], 0.5, 1e-9);
  EXPECT_LT(r.rms_log_after, 0.01);
  EXPECT_GT(r.rms_log_before, 0.3);
}

TEST(PriorFit, StaysInsideTheRange) {
  PriorFitProblem p;
  p.parameters = {{"f", 0.5, 5.0, 0.1, 0.9}};
  p.rows = 1;
  // The data want f = 2, outside the physical range.
  p.log_ratios = [](const std::vector<double>& v, std::vector<double>* out) {
    *out = {std::log(v[0] / 2.0)};
  };
  const PriorFitResult r = FitWithPriors(p);
  EXPECT_LE(r.values[0], 0.9);
  EXPECT_GT(r.values[0], 0.85);
  p.parameters[0].prior = 0.95;  // outside its own range
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { FitWithPriors(p); }), "min < prior < max"));
}

// trtllm-bench's own sizing, worked by hand for Llama-3.1-8B on one H100
// (80 GiB) in FP8 with an FP8 cache: 2 x 32 layers x 8 KV heads x 128 x 1
// byte = 64 KiB per token; the weights take params / 2^30 GiB.
TEST(TrtllmBench, SizesBatchAndTokensFromTheLengths) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  const GpuSpec h100 = ResolveGpu("h100-sxm");
  const double weights_gib = CountParams(m).total() / (1024.0 * 1024 * 1024);
  const double per_token_gib = 65536.0 / (1024.0 * 1024 * 1024);
  const double cache_gib = (80 - weights_gib) * 0.95;
  // 128/128: ~4400 requests fit, capped at 4096; 4096 x 2 = 8192 tokens.
  ASSERT_GT(cache_gib / (per_token_gib * 256), 4096);
  auto [bs, tokens] = TrtllmBenchSettings(m, h100, 1, 1, DType::kFp8, DType::kFp8, 128, 128);
  EXPECT_EQ(bs, 4096);
  EXPECT_EQ(tokens, 8192);
  // 2048/128: cache / (64 KiB x 2176) = ~519 requests -> 640 (to 128);
  // 519 x 17 = ~8820 tokens -> 9216 (to 1024).
  const double requests = cache_gib / (per_token_gib * 2176);
  ASSERT_GT(requests, 512);
  ASSERT_LT(requests, 640);
  std::tie(bs, tokens) = TrtllmBenchSettings(m, h100, 1, 1, DType::kFp8, DType::kFp8, 2048, 128);
  EXPECT_EQ(bs, 640);
  EXPECT_EQ(tokens, 9216);
  // pp divides the batch; a small batch rounds to 32, at least 64.
  std::tie(bs, tokens) = TrtllmBenchSettings(m, h100, 1, 8, DType::kFp8, DType::kFp8, 20000, 2000);
  EXPECT_EQ(bs, 64);
  EXPECT_EQ(tokens, 2048);
}

}  // namespace
}  // namespace roofplan
