// roofplan list: the catalog's models, GPUs or engine presets.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "core/error.h"
#include "model/params.h"
#include "report/reports.h"
#include "report/table.h"

namespace roofplan {

namespace {

struct ListFlags {
  std::string what, format = "table";
};

int RunList(const CliIo& io, const std::string& what, const std::string& format_name) {
  Format format = *ParseFormat(format_name);
  Table t;
  nlohmann::json j = nlohmann::json::array();
  if (what == "models") {
    t.header = {"model", "name", "params", "active", "layers", "hidden", "heads/kv", "context"};
    t.numeric = {false, false, true, true, false, true, false, true};
    for (const auto& slug : ListModels()) {
      ModelConfig m = ResolveModel(slug);
      ParamCounts c = CountParams(m);
      t.rows.push_back({slug, m.name, FormatNumber(c.total() / 1e9, 4) + "B",
                        FormatNumber(c.active / 1e9, 4) + "B", DescribeLayers(m),
                        std::to_string(m.hidden_size),
                        std::to_string(m.num_heads) + "/" + std::to_string(m.num_kv_heads) + (m.mla ? " MLA" : ""),
                        std::to_string(m.max_position_embeddings)});
      j.push_back({{"slug", slug}, {"name", m.name}, {"params_total", c.total()}, {"params_active", c.active},
                   {"layers", m.num_layers}, {"layer_kinds", DescribeLayers(m)},
                   {"attention_layers", m.num_attention_layers()}, {"recurrent_layers", m.num_recurrent_layers()},
                   {"hidden_size", m.hidden_size}, {"moe", m.is_moe()}});
    }
  } else if (what == "gpus") {
    t.header = {"gpu", "name", "memory", "TB/s", "bf16 TFLOPS", "fp8 TFLOPS", "scale-up", "$/GPU-h"};
    t.numeric = {false, false, true, true, true, true, false, true};
    for (const auto& slug : ListGpus()) {
      GpuSpec g = ResolveGpu(slug);
      auto peak = [&](DType d) {
        const auto& v = g.peak_dense_tflops[DTypeIndex(d)];
        return v ? FormatNumber(*v, 4) : std::string("-");
      };
      t.rows.push_back({slug, g.name, FormatBytes(g.memory_bytes), FormatNumber(g.memory_bandwidth_gb_per_s / 1e3, 3),
                        peak(DType::kBf16), peak(DType::kFp8), std::string(ScaleUpLinkName(g.scale_up)),
                        g.usd_per_gpu_hour ? FormatNumber(*g.usd_per_gpu_hour, 3) : "-"});
      j.push_back({{"slug", slug}, {"name", g.name}, {"memory_bytes", g.memory_bytes},
                   {"memory_bandwidth_gb_per_s", g.memory_bandwidth_gb_per_s},
                   {"usd_per_gpu_hour", g.usd_per_gpu_hour ? nlohmann::json(*g.usd_per_gpu_hour) : nlohmann::json()},
                   {"unverified", g.unverified}});
    }
  } else if (what == "engines") {
    t.header = {"engine", "description"};
    for (const auto& name : ListEngines()) {
      EnginePreset e = ResolveEngine(name);
      t.rows.push_back({name, e.description.substr(0, 100) + (e.description.size() > 100 ? "..." : "")});
      j.push_back(EnginePresetToJson(e));
    }
  } else {
    throw Error("list: expected models, gpus or engines, got \"" + what + "\"");
  }
  if (format == Format::kJson) {
    PrintJson(io, j);
  } else {
    Print(io, Render(t, format));
  }
  return 0;
}

}  // namespace

Command AddListCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* list = app->add_subcommand("list", "list catalog entries: models, gpus or engines");
  list->add_option("what", flags->what, "models, gpus or engines")->required();
  list->add_option("--format", flags->format, "table, json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));
  return {list, [&io, flags] { return RunList(io, flags->what, flags->format); }};
}

}  // namespace roofplan
