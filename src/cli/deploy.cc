// roofplan deploy: launch command, Kubernetes manifests and benchmark
// commands for a scenario, or for a candidate of a plan's JSON output.
#include <memory>
#include <optional>
#include <string>

#include "catalog/json_reader.h"
#include "cli/commands.h"
#include "cli/deploy_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "deploy/deploy_bundle.h"
#include "report/table.h"

namespace roofplan {

namespace {

struct DeployCommandFlags {
  std::string source, out, format = "table";
  int candidate = -1;
  DeployFlags deploy;
};

int RunDeploy(const CliIo& io, const DeployCommandFlags& f) {
  const std::optional<int> candidate = f.candidate >= 0 ? std::optional<int>(f.candidate) : std::nullopt;
  DeploySource source;
  if (io.scenario_json) {
    if (!f.source.empty()) throw Error(f.source + " and " + io.scenario_source + " both give the scenario: pass one");
    if (candidate)
      throw Error("--candidate picks a candidate of a plan's JSON output; " + io.scenario_source + " is a scenario");
    source.scenario = ParseScenario(ParseJsonText(*io.scenario_json, io.scenario_source), io.scenario_source);
    source.origin = "scenario " + io.scenario_source;
  } else {
    source = LoadDeploySource(f.source, candidate);
  }
  DeployOptions options = ToDeployOptions(f.deploy);
  options.origin = source.origin;
  options.prediction = source.prediction;
  const DeployBundle bundle = MakeDeployBundle(source.scenario, options);
  WriteDeployBundle(bundle, f.out);
  if (*ParseFormat(f.format) == Format::kJson) {
    nlohmann::json j = bundle.plan;
    j["out"] = f.out;
    nlohmann::json files = nlohmann::json::array();
    for (const DeployFile& file : bundle.files) files.push_back(file.name);
    j["files"] = files;
    PrintJson(io, j);
  } else {
    // README.txt says it all; then where it went.
    for (const DeployFile& file : bundle.files) {
      if (file.name == "README.txt") Print(io, file.content);
    }
    Print(io, "\n" + DeploySummary(bundle, f.out));
  }
  return 0;
}

}  // namespace

Command AddDeployCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<DeployCommandFlags>();
  CLI::App* deploy = app->add_subcommand(
      "deploy",
      "write the launch command, Kubernetes manifests and benchmark commands of a scenario or plan candidate");
  CLI::Option* source =
      deploy->add_option("source", flags->source, "scenario file, or the JSON `roofplan plan --format json` printed");
  if (!io.scenario_json) source->required();
  deploy->add_option("--out", flags->out, "folder to write the files into (created when absent)")->required();
  deploy
      ->add_option("--candidate", flags->candidate,
                   "with a plan's JSON: the feasible candidate to deploy, by rank (default 0, the cheapest)")
      ->check(IntegerIn(0, 1 << 20));
  deploy->add_option("--format", flags->format, "table (default: README.txt) or json (plan.json)")
      ->check(CLI::IsMember({"table", "text", "json"}));
  AddDeployFlags(deploy, &flags->deploy);
  return {deploy, [&io, flags] { return RunDeploy(io, *flags); }};
}

}  // namespace roofplan
