// Hostile and careless input files (issue 11): every read is bounded and
// refuses what is not a regular file; numbers are range-checked where they
// are read; keys of our own file kinds are checked for typos; paths inside
// a file are relative to it; messages quote user strings printably.
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "catalog/catalog.h"
#include "catalog/gpu_spec.h"
#include "catalog/json_reader.h"
#include "catalog/model_config.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "core/file_read.h"
#include "core/text.h"
#include "perf/setup.h"
#include "planner/plan_spec.h"
#include "serving/workload.h"
#include "validation/serving_benchmark.h"
#include "test_support.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;

nlohmann::json CatalogJson(const std::string& subdir, const std::string& slug) {
  return ReadJsonFile(std::string(ROOFPLAN_SOURCE_DIR) + "/" + subdir + "/" + slug + ".json");
}

std::string GpuError(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = CatalogJson("gpu_profiles", "h100-sxm");
  edit(j);
  return InputErrorOf([&] { ParseGpuSpec(j, "g.json", "g"); });
}

// --- bounded reads --------------------------------------------------------

TEST(HostileFiles, DirectoryIsNotAJsonFile) {
  const std::string dir = TestTempDir() + "/d.json";
  fs::create_directories(dir);
  const std::string m = InputErrorOf([&] { LoadScenario(dir); });
  EXPECT_EQ(m, dir + ": is a directory, expected a JSON file");
}

TEST(HostileFiles, DeviceIsRefusedWithoutReadingIt) {
  // /dev/zero never ends: read to the end it would exhaust memory.
  EXPECT_EQ(InputErrorOf([] { ReadJsonFile("/dev/zero"); }),
            "/dev/zero: is a character device, expected a JSON file");
  EXPECT_EQ(InputErrorOf([] { LoadGpuSpec("/dev/zero"); }),
            "/dev/zero: is a character device, expected a JSON file");
}

TEST(HostileFiles, MissingFileSaysWhy) {
  EXPECT_EQ(InputErrorOf([] { ReadJsonFile("/nonexistent/x.json"); }),
            "/nonexistent/x.json: cannot open: No such file or directory");
}

TEST(HostileFiles, FilesAboveTheLimitAreRefused) {
  const std::string path = WriteTemp("big.json", std::string(2000, ' ') + "{}");
  EXPECT_NO_THROW(ReadInputFile(path, 4096, "a JSON file"));
  const std::string m = InputErrorOf([&] { ReadInputFile(path, 1024, "a JSON file"); });
  EXPECT_EQ(m, path + ": 2002 bytes, larger than the 1024-byte limit for a JSON file");
  EXPECT_EQ(kMaxJsonFileBytes, uintmax_t{64} << 20);
}

// Writes `text` gzip-compressed to `name` in the test's directory.
std::string WriteGzipTemp(const std::string& name, const std::string& text) {
  const std::string path = TestTempDir() + "/" + name;
  gzFile out = gzopen(path.c_str(), "wb");
  EXPECT_NE(out, nullptr);
  EXPECT_EQ(gzwrite(out, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  gzclose(out);
  return path;
}

TEST(HostileFiles, GzipFilesAreReadInflated) {
  const std::string path = WriteGzipTemp("s.json.gz", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm"})");
  EXPECT_EQ(ReadInputFile(path, 4096, "a JSON file"), R"({"model": "llama-3.1-8b", "gpu": "h100-sxm"})");
  EXPECT_EQ(LoadScenario(path).model, "llama-3.1-8b");
  // A benchmark result kept compressed reads as the plain file does.
  const std::string plain = std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/vllm_detailed_qps1.json";
  std::ifstream in(plain, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string packed = WriteGzipTemp("result.json.gz", text);
  EXPECT_EQ(LoadMeasuredServingRun(packed).metrics, LoadMeasuredServingRun(plain).metrics);
}

TEST(HostileFiles, GzipBombStopsAtTheLimit) {
  // 8 MiB of spaces pack into a few kB; inflated they pass the 1 MiB limit.
  const std::string path = WriteGzipTemp("bomb.json.gz", std::string(8 << 20, ' ') + "{}");
  EXPECT_LT(fs::file_size(path), 64u << 10);
  EXPECT_EQ(InputErrorOf([&] { ReadInputFile(path, 1 << 20, "a JSON file"); }),
            path + ": gzip data inflating past the 1 MiB limit for a JSON file");
}

TEST(HostileFiles, CorruptOrTruncatedGzipIsAnInputError) {
  std::string packed;
  {
    const std::string path = WriteGzipTemp("ok.json.gz", std::string(5000, 'x'));
    std::ifstream in(path, std::ios::binary);
    packed.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  const std::string truncated = WriteTemp("cut.json.gz", packed.substr(0, packed.size() / 2));
  EXPECT_EQ(InputErrorOf([&] { ReadJsonFile(truncated); }), truncated + ": corrupt gzip data: truncated");
  std::string flipped = packed;
  flipped[12] = static_cast<char>(flipped[12] ^ 0x55);
  const std::string bad = WriteTemp("bad.json.gz", flipped);
  EXPECT_TRUE(InputErrorOf([&] { ReadJsonFile(bad); }).starts_with(bad + ": corrupt gzip data: "));
}

TEST(HostileFiles, GzipTraceSaysToDecompressIt) {
  const std::string path = WriteGzipTemp("trace.csv.gz", "arrival_s,input_tokens,output_tokens\n0,10,10\n");
  EXPECT_EQ(InputErrorOf([&] { OpenTrace(path, {}); }),
            path + ": gzip-compressed; decompress the trace (gunzip) first");
}

TEST(HostileFiles, TraceThatIsADirectoryOrDeviceIsRefused) {
  const std::string dir = TestTempDir() + "/t.csv";
  fs::create_directories(dir);
  EXPECT_EQ(InputErrorOf([&] { OpenTrace(dir, {}); }),
            dir + ": is a directory, expected a trace (CSV or JSONL)");
  EXPECT_EQ(InputErrorOf([] { OpenTrace("/dev/zero", {}); }),
            "/dev/zero: is a character device, expected a trace (CSV or JSONL)");
}

// --- numbers beyond double range ------------------------------------------

TEST(HostileFiles, NumberBeyondDoubleRangeNamesLineAndColumn) {
  const std::string path = WriteTemp("s.json", "{\"model\": \"llama-3.1-8b\",\n \"num_gpus\": 1e999}\n");
  const std::string m = InputErrorOf([&] { LoadScenario(path); });
  EXPECT_EQ(m, path + ": line 2, column 14: number 1e999 is out of range (beyond +-1.8e308)");
}

TEST(HostileFiles, NumberOverflowInAJsonlTraceIsAnInputError) {
  const std::string path = WriteTemp("t.jsonl", "{\"timestamp\": 1e999, \"input_length\": 10, \"output_length\": 10}\n");
  const std::string m = InputErrorOf([&] { OpenTrace(path, {}); });
  EXPECT_TRUE(Contains(m, "line 1: malformed JSON: number overflow parsing '1e999'")) << m;
}

TEST(HostileFiles, SyntaxErrorsStillNameLineAndColumn) {
  const std::string path = WriteTemp("bad.json", "{\n  \"a\": ,\n}");
  const std::string m = InputErrorOf([&] { ReadJsonFile(path); });
  EXPECT_TRUE(Contains(m, path + ": malformed JSON at line 2, column 8: syntax error")) << m;
}

// --- GPU profiles: ranges, prices, unknown keys ----------------------------

TEST(HostileFiles, GpuSmCountZeroIsRefused) {
  const std::string m = GpuError([](nlohmann::json& j) { j["sm_count"] = 0; });
  EXPECT_EQ(m, "g.json: $.sm_count: expected a positive integer, got 0");
}

TEST(HostileFiles, GpuFiguresAreBounded) {
  EXPECT_EQ(GpuError([](nlohmann::json& j) { j["memory_gib"] = 1e300; }),
            "g.json: $.memory_gib: expected a positive number of at most 100000, got 1e+300");
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["memory_bandwidth_gb_per_s"] = -1; }),
                       "$.memory_bandwidth_gb_per_s: expected a positive number"));
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["peak_dense_tflops"]["bf16"] = 1e9; }),
                       "$.peak_dense_tflops.bf16: expected a positive number of at most 1e+06"));
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["interconnect"]["scale_up_max_gpus"] = 0; }),
                       "$.interconnect.scale_up_max_gpus: expected a positive integer"));
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["boost_clock_mhz"] = 0; }),
                       "$.boost_clock_mhz: expected a positive number"));
}

TEST(HostileFiles, GpuPriceMustBePositiveAndBounded) {
  EXPECT_EQ(GpuError([](nlohmann::json& j) { j["price"]["usd_per_gpu_hour"] = -3.85; }),
            "g.json: $.price.usd_per_gpu_hour: expected a positive number, got -3.85");
  EXPECT_EQ(GpuError([](nlohmann::json& j) { j["price"]["usd_per_gpu_hour"] = 0; }),
            "g.json: $.price.usd_per_gpu_hour: expected a positive number, got 0");
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["price"]["usd_per_gpu_hour"] = 1e7; }),
                       "at most 10000"));
}

TEST(HostileFiles, GpuHostTimeFactorMustBePositiveAndBounded) {
  EXPECT_EQ(GpuError([](nlohmann::json& j) { j["host"] = {{"cpu", "grace"}, {"python_time_factor", 0}}; }),
            "g.json: $.host.python_time_factor: expected a positive number, got 0");
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["host"] = {{"cpu", "grace"}, {"python_time_factor", 1e4}}; }),
                       "$.host.python_time_factor: expected a positive number of at most 100"));
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["host"] = {{"python_time_factor", 2}}; }), "$.host.cpu"));
}

TEST(HostileFiles, GpuTypoIsRejectedWithDidYouMean) {
  const std::string m = GpuError([](nlohmann::json& j) {
    j["interconnect"].erase("scale_up_max_gpus");
    j["interconnect"]["scale_up_max_gpu"] = 8;
  });
  EXPECT_EQ(m, "g.json: $.interconnect.scale_up_max_gpu: unknown field; did you mean \"scale_up_max_gpus\"?");
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["memory_gb"] = 80; }),
                       "$.memory_gb: unknown field; did you mean \"memory_gib\"?"));
  EXPECT_TRUE(Contains(GpuError([](nlohmann::json& j) { j["colour"] = "green"; }),
                       "$.colour: unknown field (expected one of: name, slug,"));
}

TEST(HostileFiles, EveryCatalogGpuStillLoads) {
  for (const std::string& slug : ListGpus()) EXPECT_NO_THROW(ResolveGpu(slug)) << slug;
  for (const std::string& name : ListEngines()) EXPECT_NO_THROW(ResolveEngine(name)) << name;
  for (const std::string& slug : ListModels()) EXPECT_NO_THROW(ResolveModel(slug)) << slug;
}

TEST(HostileFiles, ScenarioPriceOverrideIsChecked) {
  nlohmann::json s = {{"model", "llama-3.1-8b"}, {"gpu", "h100-sxm"}, {"usd_per_gpu_hour", -1}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseScenario(s, "s.json"); }),
                       "s.json: $.usd_per_gpu_hour: expected a positive number, got -1"));
  s["usd_per_gpu_hour"] = 1e9;
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseScenario(s, "s.json"); }), "at most 10000"));
}

TEST(HostileFiles, EnginePresetFiguresAreBounded) {
  nlohmann::json e = {{"step_overhead_us", 1e300}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseEnginePreset(e, "e.json", "$", EnginePreset()); }),
                       "e.json: $.step_overhead_us: expected a number in [0, 1e+06], got 1e+300"));
  e = {{"norm", {{"kernels", -1}}}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseEnginePreset(e, "e.json", "$", EnginePreset()); }),
                       "$.norm.kernels: expected an integer in [0, 1000], got -1"));
  e = {{"max_num_seq", 8}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseEnginePreset(e, "e.json", "$", EnginePreset()); }),
                       "did you mean \"max_num_seqs\"?"));
}

// --- model configs ---------------------------------------------------------

TEST(HostileFiles, NegativeMaxWindowLayersIsRefused) {
  nlohmann::json m = CatalogJson("models", "qwen2.5-7b");
  m["use_sliding_window"] = true;
  m["max_window_layers"] = -100;
  EXPECT_EQ(InputErrorOf([&] { ParseModelConfig(m, "m.json", "m"); }),
            "m.json: $.max_window_layers: expected an integer in [0, 10000], got -100");
  // Above the layer count (Qwen2.5-14B's config has 70 for 48 layers):
  // every layer full attention, as in transformers.
  m["max_window_layers"] = 70;
  EXPECT_NO_THROW(ParseModelConfig(m, "m.json", "m"));
}

TEST(HostileFiles, ModelConfigIntegersAreBounded) {
  nlohmann::json m = CatalogJson("models", "llama-3.1-8b");
  m["intermediate_size"] = 1e15;
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseModelConfig(m, "m.json", "m"); }),
                       "m.json: $.intermediate_size: expected a positive integer of at most 16777216"));
  // Keys we do not read stay unchecked: hub configs carry many.
  m = CatalogJson("models", "llama-3.1-8b");
  m["some_future_field"] = -1;
  EXPECT_NO_THROW(ParseModelConfig(m, "m.json", "m"));
}

// --- paths relative to the file that names them -----------------------------

TEST(HostileFiles, ScenarioPathsAreRelativeToTheScenario) {
  const nlohmann::json j = {{"model", "mymodel.json"},
                            {"gpu", "./g.json"},
                            {"engine", "e/vllm.json"},
                            {"calibration", "cal.json"},
                            {"public_calibration", "none"},
                            {"workload", {{"trace", "t.csv"}}}};
  const Scenario s = ParseScenario(j, "sub/dir/s.json");
  EXPECT_EQ(s.model, "sub/dir/mymodel.json");
  EXPECT_EQ(s.gpu, "sub/dir/./g.json");
  EXPECT_EQ(s.engine, "sub/dir/e/vllm.json");
  EXPECT_EQ(s.calibration, "sub/dir/cal.json");
  EXPECT_EQ(s.calibration_origin, "$.calibration in sub/dir/s.json");
  EXPECT_EQ(s.public_calibration, "none");
  EXPECT_EQ(s.workload.trace, "sub/dir/t.csv");
  // Catalog names and absolute paths are kept.
  const Scenario c = ParseScenario({{"model", "llama-3.1-8b"}, {"gpu", "/abs/g.json"}}, "sub/s.json");
  EXPECT_EQ(c.model, "llama-3.1-8b");
  EXPECT_EQ(c.gpu, "/abs/g.json");
  EXPECT_EQ(c.engine, "vllm");
}

TEST(HostileFiles, PlanPathsAreRelativeToThePlan) {
  const nlohmann::json j = {
      {"model", "m/config.json"},
      {"workload", {{"isl", 100}, {"osl", 10}, {"requests_per_s", 1}}},
      {"slo", {{"ttft_ms_p90", 500}}},
      {"search", {{"gpus", {"h100-sxm", "./g.json"}}, {"engines", {"vllm", "e.json"}}}}};
  const PlanSpec p = ParsePlanSpec(j, "plans/p.json");
  EXPECT_EQ(p.model, "plans/m/config.json");
  EXPECT_EQ(p.space.gpus, (std::vector<std::string>{"h100-sxm", "plans/./g.json"}));
  EXPECT_EQ(p.space.engines, (std::vector<std::string>{"vllm", "plans/e.json"}));
}

TEST(HostileFiles, MissingCalibrationSaysItIsTheCalibration) {
  Scenario s = ParseScenario({{"model", "llama-3.1-8b"}, {"gpu", "h100-sxm"}, {"calibration", "mycal.json"}},
                             TestTempDir() + "/s.json");
  const std::string m = InputErrorOf([&] { ResolveScenario(s); });
  EXPECT_EQ(m, "calibration file " + TestTempDir() + "/mycal.json (from $.calibration in " + TestTempDir() +
                   "/s.json): cannot open: No such file or directory");
}

// --- printable messages ----------------------------------------------------

TEST(HostileFiles, ControlCharactersInMessagesAreEscaped) {
  EXPECT_EQ(EscapeControlCharacters(std::string("a\0b\n\x1b", 5)), "a\\u0000b\\n\\u001b");
  const std::string name("llama\0-3.1-8b", 13);
  const std::string m = ErrorOf([&] { ResolveModel(name); });
  EXPECT_TRUE(Contains(m, "unknown model \"llama\\u0000-3.1-8b\"")) << m;
  const nlohmann::json d = {{"model", "llama-3.1-8b"}, {"gpu", "h100-sxm"}, {"weight_dtype", std::string("bf\0" "16", 5)}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParseScenario(d, "d.json"); }),
                       "d.json: $.weight_dtype: unknown dtype \"bf\\u000016\" (expected one of"));
}

TEST(HostileFiles, NearMissNeedsACloseName) {
  EXPECT_EQ(NearMiss("concurency", {"concurrency", "isl"}), "concurrency");
  EXPECT_EQ(NearMiss("colour", {"concurrency", "isl"}), std::nullopt);
}

// --- the command line ------------------------------------------------------

struct Cli {
  int status;
  std::string err;
};

Cli RunIn(const std::string& dir, const std::string& args) {
  const std::string err = TestTempDir() + "/stderr.txt";
  const ShellResult r = RunShell("cd '" + dir + "' && ROOFPLAN_DATA_DIR='" + ROOFPLAN_SOURCE_DIR +
                                 "' timeout 20 '" + ROOFPLAN_BINARY + "' " + args + " >/dev/null 2>'" + err + "'");
  std::ifstream in(err);
  std::string line;
  std::getline(in, line);
  return {r.status, line};
}

TEST(HostileFilesCli, DevZeroAndDirectoriesFailAtOnce) {
  const Cli zero = RunIn(TestTempDir(), "estimate --scenario /dev/zero");
  EXPECT_EQ(zero.status, 2);
  EXPECT_EQ(zero.err, "roofplan: error: /dev/zero: is a character device, expected a JSON file");
  const Cli trace = RunIn(TestTempDir(), "simulate --model llama-3.1-8b --gpu h100-sxm --trace /dev/zero --no-progress");
  EXPECT_EQ(trace.status, 2);
  EXPECT_EQ(trace.err, "roofplan: error: /dev/zero: is a character device, expected a trace (CSV or JSONL)");
}

TEST(HostileFilesCli, ScenarioFilesBesideTheScenarioAreFound) {
  const std::string dir = TestTempDir();
  fs::create_directories(dir + "/sub");
  fs::copy_file(std::string(ROOFPLAN_SOURCE_DIR) + "/models/llama-3.1-8b.json", dir + "/sub/mymodel.json",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir + "/sub/t.csv") << "arrival_time_s,input_tokens,output_tokens\n0,10,10\n";
  std::ofstream(dir + "/sub/s.json") << R"({"model": "mymodel.json", "gpu": "h100-sxm", "workload": {"trace": "t.csv"}})";
  const Cli r = RunIn(dir, "simulate sub/s.json --no-progress --format csv");
  EXPECT_EQ(r.status, 0) << r.err;
}

}  // namespace
}  // namespace roofplan

namespace roofplan {
namespace {

// F02: a value nested a hundred thousand deep once overflowed the stack
// when echoed; copying or destroying it still recursed once per level (an
// ASan stack overflow). Nesting beyond kMaxJsonDepth is refused where it
// starts, in JSON files and in JSONL trace rows alike.
TEST(HostileFiles, JsonNestedPastTheLimitIsRefusedWhereItStarts) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string path = WriteTemp("deep.json", "{\"hidden_size\": " + deep + "}");
  const std::string m = MessageOf<InputError>([&] { ReadJsonFile(path); });
  // The object is level 1, so the 256th '[' (column 16 + 256) is level 257.
  EXPECT_TRUE(Contains(m, "line 1, column 272")) << m;
  EXPECT_TRUE(Contains(m, "nested more than 256 deep")) << m;
  // Brackets in strings do not count; 256 levels are fine.
  EXPECT_EQ(FindJsonNestingPastLimit("\"" + std::string(1000, '[') + "\""), std::string::npos);
  EXPECT_EQ(FindJsonNestingPastLimit(std::string(256, '[') + std::string(256, ']')), std::string::npos);
  EXPECT_EQ(FindJsonNestingPastLimit(std::string(257, '[')), 256u);

  const std::string trace = WriteTemp("deep.jsonl", "{\"arrival_time_s\": 0, \"input_tokens\": 5, \"output_tokens\": 2}\n" +
                                                        deep + "\n");
  WorkloadLimits limits;
  const std::string t = ErrorOf([&] {
    auto source = OpenTrace(trace, limits);
    while (source->Next()) {
    }
  });
  EXPECT_TRUE(Contains(t, "line 2")) << t;
  EXPECT_TRUE(Contains(t, "nested more than 256 deep")) << t;
}

}  // namespace
}  // namespace roofplan
