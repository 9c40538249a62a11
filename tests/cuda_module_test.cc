// The CUDA microkernels live in a module that calibrate loads when it
// first needs a GPU (kernels/cuda_module.h): no other command loads a
// CUDA library, and calibrate says in one line why the module did not
// load. Run through the binary, whose memory map is its own (this test
// program may have loaded the module already).
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "test_support.h"

namespace roofplan {
namespace {

const char* const kCudaLibraries[] = {"libcudart", "libcublas", "libnccl", "libroofplan_cuda"};

// A clean one-line failure: "roofplan: error: ..." and status 2.
void ExpectOneLineError(const CliRun& r, std::initializer_list<std::string> mentions) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(r.err.starts_with("roofplan: error: ")) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  for (const std::string& m : mentions) EXPECT_TRUE(Contains(r.err, m)) << "no '" << m << "' in: " << r.err;
}

// LD_DEBUG=files makes the dynamic linker name every library it loads on
// stderr: libc's line shows the listing is there to be read.
TEST(CudaModule, EstimateLoadsNoCudaLibrary) {
  const CliRun r = RunRoofplanWith(
      "LD_DEBUG=files",
      "estimate --model llama-3.1-8b --gpu h100-sxm --isl 1000 --osl 250 --concurrency 32");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(Contains(r.err, "libc.so")) << "no dynamic linker listing: " << r.err;
  for (const char* library : kCudaLibraries) EXPECT_FALSE(Contains(r.err, library)) << library;
}

// --device 1023: past every machine's devices, so the command fails (after
// loading the module) wherever it runs, never starting a sweep.
TEST(CudaModule, CalibrateLoadsTheModuleWhenItNeedsIt) {
  const CliRun r = RunRoofplanWith("LD_DEBUG=files", "calibrate --gpu h100-sxm --device 1023 --out " +
                                                         TestTempDir() + "/c.json");
  EXPECT_EQ(r.status, 2) << r.err;
  ASSERT_TRUE(Contains(r.err, "libc.so")) << "no dynamic linker listing: " << r.err;
#ifdef ROOFPLAN_HAVE_CUDA
  EXPECT_TRUE(Contains(r.err, "libroofplan_cuda.so")) << r.err;
  EXPECT_TRUE(Contains(r.err, "libcublasLt")) << r.err;
  const std::string last = r.err.substr(r.err.rfind("roofplan: error: "));
  EXPECT_TRUE(Contains(last, "CUDA") || Contains(last, "--device 1023")) << last;
#else
  for (const char* library : kCudaLibraries) EXPECT_FALSE(Contains(r.err, library)) << library;
  EXPECT_TRUE(Contains(r.err, "needs a CUDA build")) << r.err;
#endif
}

TEST(CudaModule, CalibrateSaysWhenTheModuleIsMissing) {
  const std::string missing = "/nonexistent/libroofplan_cuda.so";
  // With --gpu the sweep asks first; without it the device's name does.
  for (const std::string& args : {"calibrate --gpu h100-sxm --out " + TestTempDir() + "/c.json",
                                  "calibrate --out " + TestTempDir() + "/c.json"}) {
    SCOPED_TRACE(args);
    const CliRun r = RunRoofplanWith("ROOFPLAN_CUDA_MODULE=" + missing, args);
#ifdef ROOFPLAN_HAVE_CUDA
    ExpectOneLineError(r, {"cannot load the CUDA microkernels", "not found", missing, "ROOFPLAN_CUDA_MODULE"});
#else
    ExpectOneLineError(r, {"needs a CUDA build"});
#endif
  }
}

TEST(CudaModule, CalibrateSaysWhenTheModuleDoesNotLoad) {
  const std::string not_a_library = TestTempDir() + "/libroofplan_cuda.so";
  std::ofstream(not_a_library) << "not an ELF file\n";
  const CliRun r = RunRoofplanWith("ROOFPLAN_CUDA_MODULE='" + not_a_library + "'",
                                   "calibrate --gpu h100-sxm --out " + TestTempDir() + "/c.json");
#ifdef ROOFPLAN_HAVE_CUDA
  ExpectOneLineError(r, {"cannot load the CUDA microkernels", not_a_library});
#else
  ExpectOneLineError(r, {"needs a CUDA build"});
#endif
}

}  // namespace
}  // namespace roofplan
