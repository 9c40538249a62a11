// The HTML plan report: self-contained, escaped, free of NaN/inf, "no
// data" for empty charts; and, in a headless Chromium, that the four SVG
// charts actually draw. The PlanResult here is synthetic test data built by
// hand, not planner output and not measurements.
#include "report/html_report.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/units.h"
#include "report/html_escape.h"
#include "test_support.h"

namespace roofplan {
namespace {

CandidateResult MakeCandidate(const std::string& gpu, int tp, DType weights, double usd_per_hour,
                              double usd_per_1m, double speed) {
  CandidateResult c;
  c.candidate.gpu = gpu;
  c.candidate.tp = tp;
  c.candidate.weight_dtype = c.candidate.kv_dtype = weights;
  c.fits = true;
  c.memory.capacity_bytes = 80 * kGiB;
  c.memory.usable_bytes = 72 * kGiB;
  c.memory.weights_bytes = 140 * kGiB / tp / (weights == DType::kFp8 ? 2 : 1);
  c.memory.activation_bytes = 2.5 * kGiB;
  c.memory.runtime_overhead_bytes = 3 * kGiB;
  c.memory.kv_budget_bytes = c.memory.usable_bytes - c.memory.weights_bytes - 5.5 * kGiB;
  c.memory.fits = true;
  // A made-up curve: per-user speed falls and per-GPU throughput rises
  // with concurrency; latencies grow.
  for (double n = 1; n <= 256; n *= 2) {
    CurvePoint p;
    p.concurrency = n;
    p.output_tokens_per_s_per_user = speed / (1 + n / 48);
    p.output_tokens_per_s_per_gpu = n * p.output_tokens_per_s_per_user / tp;
    p.itl_ms = 1000 / p.output_tokens_per_s_per_user;
    p.ttft_ms = 60 * (1 + n / 16) * (8.0 / tp) * (100 / speed);
    c.curve.push_back(p);
  }
  c.replica_requests_per_s = 4;
  c.replicas = 3;
  c.num_gpus = 3 * tp;
  c.usd_per_hour = usd_per_hour;
  c.usd_per_1m_tokens = usd_per_1m;
  c.usd_per_1m_output_tokens = usd_per_1m * 5;
  c.headroom = 0.18;
  c.simulated = true;
  c.ttft_ms_p90 = 500;
  c.ttft_ms_p99 = 800;
  c.itl_ms_p99 = 30;
  c.tpot_ms_p99 = 25;
  c.output_tokens_per_s_per_user = 45;
  c.meets_slo = true;
  return c;
}

// Non-dominated curve points of the candidates (more per-user speed or
// more per-GPU throughput), by per-user speed.
std::vector<ParetoPoint> Frontier(const std::vector<CandidateResult>& cands) {
  std::vector<ParetoPoint> all, front;
  for (const auto& c : cands) {
    for (const auto& p : c.curve) {
      all.push_back({c.candidate.gpu + " tp" + std::to_string(c.candidate.tp), p.output_tokens_per_s_per_gpu,
                     p.output_tokens_per_s_per_user, p.concurrency});
    }
  }
  for (const auto& p : all) {
    const bool dominated = std::any_of(all.begin(), all.end(), [&](const ParetoPoint& q) {
      return q.output_tokens_per_s_per_gpu >= p.output_tokens_per_s_per_gpu &&
             q.output_tokens_per_s_per_user >= p.output_tokens_per_s_per_user &&
             (q.output_tokens_per_s_per_gpu > p.output_tokens_per_s_per_gpu ||
              q.output_tokens_per_s_per_user > p.output_tokens_per_s_per_user);
    });
    if (!dominated) front.push_back(p);
  }
  std::sort(front.begin(), front.end(), [](const ParetoPoint& a, const ParetoPoint& b) {
    return a.output_tokens_per_s_per_user < b.output_tokens_per_s_per_user;
  });
  return front;
}

PlanResult SyntheticPlan() {
  PlanResult r;
  r.spec.name = "chat-70b";
  r.spec.model = "llama-3.1-70b";
  r.spec.requests_per_s = 12;
  r.spec.workload.isl = LengthSpec::Fixed(1000);
  r.spec.workload.osl = LengthSpec::Fixed(250);
  r.spec.slos = {{"ttft", 90, 1000}, {"itl", 99, 50}};
  r.spec.min_output_tokens_per_s_per_user = 20;

  // Cheapest first, with numbers that appear nowhere else.
  CandidateResult cheapest = MakeCandidate("h100-sxm", 4, DType::kFp8, 61.44, 0.4321, 90);
  cheapest.ttft_ms_p90 = 412.5;
  cheapest.itl_ms_p99 = 23.75;
  r.feasible.push_back(cheapest);
  r.feasible.push_back(MakeCandidate("gpu<&>x", 8, DType::kBf16, 98.0, 0.69, 110));
  r.feasible.push_back(MakeCandidate("a100-80gb", 8, DType::kBf16, 120.0, 0.85, 60));

  CandidateResult bad = MakeCandidate("l4", 1, DType::kBf16, 0, 0, 20);
  bad.fits = false;
  bad.why_not = "weights 140 GiB > 24 GiB usable";
  bad.memory.capacity_bytes = 24 * kGiB;
  bad.memory.kv_budget_bytes = -120 * kGiB;
  bad.curve.clear();
  r.infeasible.push_back(bad);

  r.pareto = Frontier(r.feasible);
  r.configurations = 64;
  r.threads = 8;
  r.seconds = 0.25;
  return r;
}

int CountOf(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Words "nan", "inf", "infinity" (any case), as printf writes non-finite
// numbers; "infeasible" is one word and does not count.
std::vector<std::string> NonFiniteWords(const std::string& html) {
  std::vector<std::string> bad;
  std::string word;
  for (size_t i = 0; i <= html.size(); ++i) {
    const char c = i < html.size() ? html[i] : ' ';
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      if (word == "nan" || word == "inf" || word == "infinity") bad.push_back(word);
      word.clear();
    }
  }
  return bad;
}

void ExpectSelfContained(const std::string& html) {
  for (const char* ref : {"http://", "https://", "<script src", "@import", "url(", "<img", "<link"}) {
    EXPECT_FALSE(Contains(html, ref)) << ref;
  }
}

TEST(HtmlReportTest, SelfContainedWithChartsTablesAndSummary) {
  const std::string html = RenderPlanHtml(SyntheticPlan());
  ExpectSelfContained(html);
  for (const char* id : {"pareto", "latency", "memory", "cost"}) {
    EXPECT_EQ(CountOf(html, std::string("<svg id=\"") + id + "\" class=\"chart\""), 1) << id;
  }
  EXPECT_FALSE(Contains(html, "no data"));
  // Title and SLOs.
  EXPECT_TRUE(Contains(html, "chat-70b"));
  EXPECT_TRUE(Contains(html, "TTFT p90 \u2264 1000 ms"));
  EXPECT_TRUE(Contains(html, "ITL p99 \u2264 50 ms"));
  EXPECT_TRUE(Contains(html, "12 requests/s"));
  // The cheapest candidate's numbers (summary and table).
  EXPECT_TRUE(Contains(html, "Cheapest feasible: h100-sxm tp4 fp8/fp8 vllm"));
  for (const char* n : {"61.44", "0.4321", "412.5", "23.75", "headroom 18%"}) EXPECT_TRUE(Contains(html, n)) << n;
  // The infeasible one and why.
  EXPECT_TRUE(Contains(html, "weights 140 GiB &gt; 24 GiB usable"));
  EXPECT_TRUE(Contains(html, "Infeasible configurations (1)"));
  EXPECT_TRUE(NonFiniteWords(html).empty()) << NonFiniteWords(html).front();
}

TEST(HtmlReportTest, HtmlEscapeTurnsTheFiveSpecialCharactersIntoEntities) {
  EXPECT_EQ(HtmlEscape("a<b & 'c' \"d\">"), "a&lt;b &amp; &#39;c&#39; &quot;d&quot;&gt;");
  EXPECT_EQ(HtmlEscape("h100-sxm tp4"), "h100-sxm tp4");
  EXPECT_EQ(HtmlEscape(""), "");
}

TEST(HtmlReportTest, EscapesNames) {
  PlanResult r = SyntheticPlan();
  r.spec.name = "plan \"<b>\" & 'co'";
  const std::string html = RenderPlanHtml(r);
  EXPECT_FALSE(Contains(html, "gpu<&>x"));
  EXPECT_TRUE(Contains(html, "gpu&lt;&amp;&gt;x"));
  EXPECT_FALSE(Contains(html, "<b>"));
  EXPECT_TRUE(Contains(html, "plan &quot;&lt;b&gt;&quot; &amp; &#39;co&#39;"));
}

TEST(HtmlReportTest, EmptyPlanShowsNoData) {
  PlanResult r;
  r.binding_constraint = "ITL p99 <= 5 ms: best 7.5 ms";
  const std::string html = RenderPlanHtml(r);
  ExpectSelfContained(html);
  for (const char* id : {"pareto", "latency", "memory", "cost"}) {
    EXPECT_TRUE(Contains(html, std::string("<svg id=\"") + id + "\"")) << id;
  }
  EXPECT_EQ(CountOf(html, ">no data<"), 4);
  EXPECT_TRUE(Contains(html, "No feasible configuration."));
  EXPECT_TRUE(Contains(html, "ITL p99 &lt;= 5 ms: best 7.5 ms"));
  EXPECT_TRUE(NonFiniteWords(html).empty());
}

TEST(HtmlReportTest, DegenerateValuesStayFinite) {
  // Zeros, one-point curves, NaN and infinite inputs, a negative KV budget.
  PlanResult r;
  CandidateResult c;
  c.candidate.gpu = "zero";
  c.curve.push_back({});  // all zeros
  c.curve.push_back({4, NAN, INFINITY, NAN, -1});
  r.feasible.push_back(c);
  CandidateResult d = c;
  d.curve = {{8, 100, 20, 500, 30}};
  d.memory.kv_budget_bytes = -5 * kGiB;
  d.usd_per_1m_tokens = INFINITY;
  r.feasible.push_back(d);
  r.infeasible.push_back(CandidateResult{});
  r.pareto = {{"only", 500, 30, 8}, {"bad", NAN, INFINITY, 0}};
  const std::string html = RenderPlanHtml(r);
  for (const char* id : {"pareto", "latency", "memory", "cost"}) {
    EXPECT_TRUE(Contains(html, std::string("<svg id=\"") + id + "\"")) << id;
  }
  // Only the tables may say n/a (FormatNumber of a non-finite input);
  // nothing prints "nan" or "inf".
  const auto bad = NonFiniteWords(html);
  EXPECT_TRUE(bad.empty()) << bad.size() << " non-finite words, first: " << (bad.empty() ? "" : bad[0]);
}

// ---- headless browser ------------------------------------------------------

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string FindChromium() {
  if (const char* env = std::getenv("ROOFPLAN_CHROMIUM"); env && *env) return env;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
    const std::string cmd = std::string("command -v ") + name + " 2>/dev/null";
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) continue;
    std::array<char, 512> buf{};
    std::string out;
    while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
    pclose(pipe);
    out = Trimmed(out);
    if (!out.empty()) return out;
  }
  return "";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Rgba {
  int width = 0, height = 0;
  std::vector<unsigned char> pixels;  // RGBA, row-major
};

// libpng's simplified API, converted to 8-bit RGBA whatever the file holds.
std::optional<Rgba> ReadPng(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return std::nullopt;
  image.format = PNG_FORMAT_RGBA;
  Rgba out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    return std::nullopt;
  }
  return out;
}

struct ColorHits {
  int count = 0;
  int min_x = 1 << 30, max_x = -1;
};

// Pixels within `tolerance` per channel of "#rrggbb".
ColorHits FindColor(const Rgba& img, const std::string& hex, int tolerance = 6) {
  const int r = std::stoi(hex.substr(1, 2), nullptr, 16), g = std::stoi(hex.substr(3, 2), nullptr, 16),
            b = std::stoi(hex.substr(5, 2), nullptr, 16);
  ColorHits hits;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      const unsigned char* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 4];
      if (std::abs(p[0] - r) <= tolerance && std::abs(p[1] - g) <= tolerance && std::abs(p[2] - b) <= tolerance) {
        ++hits.count;
        hits.min_x = std::min(hits.min_x, x);
        hits.max_x = std::max(hits.max_x, x);
      }
    }
  }
  return hits;
}

// Screenshots the page; returns the PNG path, or "" with `log` saying why.
std::string Screenshot(const std::string& chromium, const std::string& html_path, const std::string& dir,
                       std::string& log) {
  const std::string png = dir + "/report.png", log_path = dir + "/chromium.log";
  // Old Chromium takes --headless; since 132 that is the new mode anyway,
  // but some builds in between want --headless=new: try both. Startup
  // takes 10-20 s on a 2-core machine, hence the generous timeout.
  for (const char* mode : {"--headless", "--headless=new"}) {
    std::filesystem::remove(png);
    const std::string cmd =
        "timeout 120 " + Quote(chromium) + " " + mode +
        " --no-sandbox --disable-gpu --hide-scrollbars --disable-dev-shm-usage --no-first-run"
        " --force-color-profile=srgb --force-device-scale-factor=1 --window-size=1280,4000"
        " --user-data-dir=" + Quote(dir + "/profile") + " --screenshot=" + Quote(png) + " " +
        Quote("file://" + html_path) + " >" + Quote(log_path) + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    log += std::string("$ ") + cmd + "\nexit " + std::to_string(rc) + "\n" + text.str() + "\n";
    if (std::filesystem::exists(png) && std::filesystem::file_size(png) > 0) return png;
  }
  return "";
}

// Renders the synthetic plan in headless Chromium and checks the charts
// were drawn, by colour: each checked colour is used by one chart only
// (html_report.h), so enough pixels of it mean that chart's marks were laid
// out and painted. Counting a few hundred pixels rules out the legend
// swatches alone (12x12 px); the frontier's horizontal spread rules out a
// collapsed line. Positions are not checked: they depend on fonts.
TEST(HtmlReportTest, ChartsDrawInHeadlessChromium) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL() << "no chromium on PATH; CI must install it (Debian: chromium)";
    GTEST_SKIP() << "no chromium";
  }
  const std::string dir = TestTempDir();
  const std::string html_path = std::filesystem::absolute(WriteTemp("report.html", RenderPlanHtml(SyntheticPlan())));
  std::string log;
  const std::string png = Screenshot(chromium, html_path, dir, log);
  ASSERT_FALSE(png.empty()) << "chromium wrote no screenshot:\n" << log;
  const auto img = ReadPng(png);
  ASSERT_TRUE(img) << "cannot decode " << png;
  ASSERT_GE(img->width, 1000);
  ASSERT_GE(img->height, 1000);

  // Not blank: a good share of the page is not background white.
  int painted = 0;
  for (size_t i = 0; i < img->pixels.size(); i += 4) {
    if (img->pixels[i] < 240 || img->pixels[i + 1] < 240 || img->pixels[i + 2] < 240) ++painted;
  }
  EXPECT_GT(painted, 50000) << png;

  const ColorHits frontier = FindColor(*img, kHtmlFrontierColor);
  EXPECT_GT(frontier.count, 500) << "Pareto frontier line, " << png;
  EXPECT_GT(frontier.max_x - frontier.min_x, 300) << "Pareto frontier spread, " << png;
  EXPECT_GT(FindColor(*img, kHtmlCostColor).count, 500) << "cost bars, " << png;
  EXPECT_GT(FindColor(*img, kHtmlCheapestColor).count, 300) << "cheapest cost bar, " << png;
  EXPECT_GT(FindColor(*img, kHtmlFirstSeriesColor).count, 300) << "latency series, " << png;
  EXPECT_GT(FindColor(*img, kHtmlKvColor).count, 300) << "memory KV bars, " << png;
}

}  // namespace
}  // namespace roofplan
