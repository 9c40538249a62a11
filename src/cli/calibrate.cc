// roofplan calibrate: measure this GPU with the CUDA microkernels (or fit
// again from a calibration file's raw points) and write the calibration.
#include <memory>
#include <ostream>
#include <string>

#include "calibrate/fit.h"
#include "calibrate/sweep.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "core/output_file.h"
#include "hardware/calibration.h"
#include "report/table.h"

namespace roofplan {

namespace {

struct CalibrateFlags {
  std::string gpu, out, refit, format = "table";
  int device = 0;
  bool quick = false;
};

std::string Percent(double fraction) { return FormatNumber(100 * fraction, 3) + "%"; }

// What the fits say, one row per curve.
Table CalibrationTable(const Calibration& c, const std::string& path) {
  Table t;
  t.title = "calibration of " + c.gpu_slug + " (" + c.gpu_name + ", driver " + c.driver_version +
            ", CUDA " + c.cuda_version + ", " + c.date + ") -> " + path;
  t.header = {"curve", "fit", "rms error", "points"};
  t.numeric = {false, false, true, true};
  if (c.memory) {
    t.rows.push_back({"memory bandwidth", Percent(c.memory->max_fraction) + " of datasheet, half at " +
                                              FormatBytes(c.memory->half),
                      Percent(c.memory_rms_relative_error), ""});
  }
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto& g = c.gemm[i];
    if (!g) continue;
    t.rows.push_back({std::string("GEMM ") + std::string(DTypeName(static_cast<DType>(i))),
                      Percent(g->max_fraction) + " of peak; halves m " + FormatNumber(g->m_half, 3) +
                          ", n " + FormatNumber(g->n_half, 3) + ", k " + FormatNumber(g->k_half, 3),
                      Percent(g->rms_relative_error), std::to_string(g->points)});
  }
  if (c.decode_attention) {
    t.rows.push_back({"decode attention", Percent(c.decode_attention->max_fraction) +
                                              " of datasheet bandwidth, half at " +
                                              FormatBytes(c.decode_attention->half),
                      Percent(c.decode_attention_rms_relative_error), ""});
  }
  if (c.prefill_attention_fraction) {
    t.rows.push_back({"prefill attention (ours, recorded)", Percent(*c.prefill_attention_fraction) + " of bf16 peak", "", ""});
  }
  if (c.min_kernel_us) t.rows.push_back({"shortest fused kernel", FormatNumber(*c.min_kernel_us) + " us", "", ""});
  if (c.empty_launch_us) t.rows.push_back({"empty kernel launch", FormatNumber(*c.empty_launch_us) + " us", "", ""});
  if (c.graph_node_us) t.rows.push_back({"CUDA graph node", FormatNumber(*c.graph_node_us) + " us", "", ""});
  if (c.collective_bandwidth_fraction) {
    t.rows.push_back({"NCCL", Percent(*c.collective_bandwidth_fraction) + " of link bandwidth, " +
                                  FormatNumber(c.collective_step_latency_us.value_or(0)) + " us per step",
                      "", ""});
  }
  t.rows.push_back({"raw points", std::to_string(c.points.size()), "", ""});
  return t;
}

int RunCalibrate(const CliIo& io, const CalibrateFlags& f) {
  Calibration c;
  GpuSpec gpu;
  if (!f.refit.empty()) {
    // Fit again from the raw points of an existing file: no GPU needed.
    c = LoadCalibration(f.refit);
    if (!f.gpu.empty() && f.gpu != c.gpu_slug) {
      throw Error("--gpu " + f.gpu + ": " + f.refit + " was measured on " + c.gpu_slug);
    }
    gpu = ResolveGpu(c.gpu_slug);
  } else {
    std::string slug = f.gpu;
    if (slug.empty()) {
      const std::string name = DeviceName(f.device);
      slug = GpuSlugForDeviceName(name);
      if (slug.empty()) {
        throw Error("CUDA device \"" + name + "\" is not one the GPU catalog knows; pass --gpu SLUG "
                    "(roofplan list gpus) or add a profile to gpu_profiles/");
      }
    }
    gpu = ResolveGpu(slug);
    SweepOptions options;
    options.device = f.device;
    options.quick = f.quick;
    options.on_progress = [&io](const std::string& line) { io.err << "calibrate: " << line << "\n" << std::flush; };
    c = RunCalibrationSweep(gpu, options);
  }
  FitCalibration(gpu, &c);
  const std::string out = !f.out.empty()    ? f.out
                          : !f.refit.empty() ? f.refit
                                             : DataDir() + "/calibration/" + gpu.slug + ".json";
  WriteOutputFile(out, CalibrationToJson(c).dump(2) + "\n");
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    nlohmann::json j = CalibrationToJson(c);
    j.erase("points");
    j["file"] = out;
    PrintJson(io, j);
  } else {
    Print(io, Render(CalibrationTable(c, out), format == Format::kCsv ? Format::kTable : format));
  }
  return 0;
}

}  // namespace

Command AddCalibrateCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<CalibrateFlags>();
  CalibrateFlags& cal = *flags;
  CLI::App* calibrate = app->add_subcommand(
      "calibrate", "measure this GPU with CUDA microkernels and write calibration/<gpu>.json");
  calibrate->add_option("--gpu", cal.gpu, "GPU profile slug (default: detected from the device name)");
  calibrate->add_option("--device", cal.device, "CUDA device index (default 0)")
      ->check(IntegerIn(0, kMaxDeviceIndex));
  calibrate->add_flag("--quick", cal.quick, "fewer sizes: a smoke run of about a minute");
  calibrate->add_option("--out", cal.out, "where to write (default calibration/<gpu>.json in the data folder)");
  calibrate->add_option("--refit", cal.refit, "fit again from the raw points of a calibration file (no GPU needed)");
  calibrate->add_option("--format", cal.format, "table (default), json or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "markdown", "md"}));
  return {calibrate, [&io, flags] { return RunCalibrate(io, *flags); }};
}

}  // namespace roofplan
