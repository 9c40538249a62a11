// What `roofplan plan` prints: one JSON object (key names are a contract,
// see README "roofplan plan"), or tables for people: the ranked feasible
// configurations, why the others failed, and the Pareto frontier.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "planner/plan.h"
#include "report/table.h"

namespace roofplan {

nlohmann::json PlanJson(const PlanResult& result);
std::string PlanText(const PlanResult& result, Format format);  // table, markdown or csv

}  // namespace roofplan
