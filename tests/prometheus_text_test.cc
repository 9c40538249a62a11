// The Prometheus text exposition format (validation/prometheus_text.h) and
// histograms read from it (validation/prometheus_histogram.h): escapes,
// special values, histograms and their quantiles worked by hand, and the
// one-line errors that name the file and line of a malformed input.
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "test_support.h"
#include "validation/prometheus_histogram.h"
#include "validation/prometheus_text.h"

namespace roofplan {
namespace {

std::string ParseError(const std::string& text) {
  return MessageOf<InputError>([&] { ParsePrometheusText(text, "scrape.txt"); });
}

TEST(PrometheusText, SamplesLabelsAndEscapes) {
  const PrometheusScrape s = ParsePrometheusText(
      "# a comment, and a blank line next\n"
      "\n"
      "# HELP http_requests_total The total number of HTTP requests.\\nBy code.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{ method = \"post\" , code=\"400\", } 3\r\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "\tmetric_without_timestamp_and_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "vllm:num_requests_running{} 7\n",
      "scrape.txt");
  ASSERT_EQ(s.samples.size(), 6u);
  EXPECT_EQ(s.TypeOf("http_requests_total"), "counter");
  EXPECT_EQ(s.TypeOf("vllm:num_requests_running"), "");
  EXPECT_EQ(s.help.at("http_requests_total"), "The total number of HTTP requests.\nBy code.");

  const PrometheusSample& a = s.samples[0];
  EXPECT_EQ(a.name, "http_requests_total");
  EXPECT_EQ(a.labels.at("method"), "post");
  EXPECT_EQ(a.labels.at("code"), "200");
  EXPECT_EQ(a.value, 1027);
  EXPECT_EQ(a.timestamp_ms.value_or(0), 1395066363000);
  EXPECT_EQ(a.line, 5);
  // Blanks inside the braces, a trailing comma, a \r before the \n.
  EXPECT_EQ(s.samples[1].labels.at("code"), "400");
  EXPECT_EQ(s.samples[1].value, 3);
  EXPECT_FALSE(s.samples[1].timestamp_ms);
  // \\ -> \, \" -> ", \n -> newline.
  EXPECT_EQ(s.samples[2].labels.at("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(s.samples[2].labels.at("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_DOUBLE_EQ(s.samples[2].value, 1.458255915e9);
  EXPECT_TRUE(s.samples[3].labels.empty());
  EXPECT_EQ(s.samples[3].line, 8);
  EXPECT_TRUE(std::isinf(s.samples[4].value));
  EXPECT_EQ(s.samples[4].timestamp_ms.value_or(0), -3982045);
  EXPECT_EQ(s.samples[5].name, "vllm:num_requests_running");
  EXPECT_EQ(s.Named("http_requests_total").size(), 2u);
}

TEST(PrometheusText, SpecialValues) {
  const PrometheusScrape s = ParsePrometheusText(
      "a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\nf -0.5\ng 1e3\nh .25\ni 1e999\nj 1e-999\n", "x");
  ASSERT_EQ(s.samples.size(), 10u);
  EXPECT_TRUE(std::isnan(s.samples[0].value));
  EXPECT_EQ(s.samples[1].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.samples[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.samples[3].value, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(s.samples[4].value));
  EXPECT_EQ(s.samples[5].value, -0.5);
  EXPECT_EQ(s.samples[6].value, 1000);
  EXPECT_EQ(s.samples[7].value, 0.25);
  // Out of range, as Go's ParseFloat reads them.
  EXPECT_EQ(s.samples[8].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.samples[9].value, 0);
}

TEST(PrometheusText, MalformedLinesNameFileAndLine) {
  struct Case {
    std::string text, expected;
  };
  const Case cases[] = {
      {"ok 1\nfoo{a=\"b\" 1\n", "scrape.txt: line 2: expected ',' or '}' after the value of label \"a\""},
      {"foo{a=\"b\n", "scrape.txt: line 1: the value of label \"a\" is not closed"},
      {"foo{a=b} 1\n", "scrape.txt: line 1: expected '\"' opening the value of label \"a\", got \"b} 1\""},
      {"foo{a=\"\\x\"} 1\n", "scrape.txt: line 1: invalid escape \\x in the value of label \"a\""},
      {"foo{a=\"1\",a=\"2\"} 1\n", "scrape.txt: line 1: label \"a\" appears twice"},
      {"foo{9a=\"1\"} 1\n", "scrape.txt: line 1: expected a label name or '}'"},
      {"foo\n", "scrape.txt: line 1: \"foo\" has no value"},
      {"foo abc\n", "scrape.txt: line 1: expected a number (or NaN, +Inf, -Inf) as the value of \"foo\", got \"abc\""},
      {"foo 0x10\n", "as the value of \"foo\", got \"0x10\""},
      {"foo 1 12.5\n", "scrape.txt: line 1: expected an integer timestamp (milliseconds) after the value of \"foo\", got \"12.5\""},
      {"foo 1 2 3\n", "scrape.txt: line 1: unexpected \"3\" after the timestamp"},
      {"9foo 1\n", "scrape.txt: line 1: expected a metric name or '#', got \"9foo 1\""},
      {"foo{a=\"1\"}1\n", "scrape.txt: line 1: expected a blank before the value of \"foo\""},
      {"# TYPE foo fancy\n", "scrape.txt: line 1: unknown metric type \"fancy\" for \"foo\""},
      {"# TYPE foo gauge extra\n", "scrape.txt: line 1: unexpected \"extra\" after the type in # TYPE"},
      {"# TYPE\n", "scrape.txt: line 1: expected a metric name after # TYPE, got the end of the line"},
      {"# TYPE foo gauge\n# TYPE foo counter\n", "scrape.txt: line 2: a second TYPE line for \"foo\""},
      {"# HELP foo a\n# HELP foo b\n", "scrape.txt: line 2: a second HELP line for \"foo\""},
      {"# HELP foo bad \\t escape\n", "scrape.txt: line 1: invalid escape \\t in the HELP text"},
      {"foo_bucket{le=\"1\"} 1\n# TYPE foo histogram\n",
       "scrape.txt: line 2: the TYPE of \"foo\" comes after its sample \"foo_bucket\" on line 1"},
      {"# TYPE foo histogram\nfoo 1\n",
       "scrape.txt: line 2: \"foo\" is a histogram: its samples are foo_bucket, foo_sum and foo_count"},
      {"# TYPE foo histogram\nfoo_bucket{x=\"1\"} 1\n", "scrape.txt: line 2: the histogram bucket \"foo_bucket\" has no \"le\" label"},
      {"# TYPE foo histogram\nfoo_bucket{le=\"many\"} 1\n",
       "scrape.txt: line 2: expected a number or +Inf as the \"le\" of \"foo_bucket\", got \"many\""},
      {"# TYPE foo histogram\nfoo_sum{le=\"1\"} 1\n", "scrape.txt: line 2: \"foo_sum\" of histogram \"foo\" has an \"le\" label"},
      // The same series twice: both lines named, whatever the label order.
      {"foo{a=\"1\",b=\"2\"} 1\nbar 2\nfoo{b=\"2\",a=\"1\"} 3\n",
       "scrape.txt: line 3: the series foo{a=\"1\",b=\"2\"} is given twice (also on line 1)"},
  };
  for (const Case& c : cases) {
    const std::string message = ParseError(c.text);
    EXPECT_TRUE(Contains(message, c.expected)) << "input: " << c.text << "\nmessage: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(PrometheusText, HostileBytesStayOneLine) {
  const std::string message = ParseError(std::string("foo{a=\"\\n\"} 1\nbar{a=\"x\0y\"} 1\nbar{a=\"x\0y\"} 2\n", 44));
  EXPECT_TRUE(Contains(message, "scrape.txt: line 3: the series bar{a=\"x\\u0000y\"} is given twice")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(PrometheusText, ReadsFilesBounded) {
  const std::string path = WriteTemp("scrape.txt", "# TYPE up gauge\nup 1\n");
  const PrometheusScrape s = ReadPrometheusText(path);
  EXPECT_EQ(s.file, path);
  ASSERT_EQ(s.samples.size(), 1u);
  const std::string message = MessageOf<InputError>([&] { ReadPrometheusText(TestTempDir()); });
  EXPECT_TRUE(Contains(message, "is a directory, expected a Prometheus metrics scrape")) << message;
}

// The example histogram of the format's documentation, cut down: 144320
// observations, buckets 0.05, 0.1, 0.2, 0.5, 1, +Inf.
const char* kDocHistogram =
    "# HELP http_request_duration_seconds A histogram of the request duration.\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
    "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
    "http_request_duration_seconds_bucket{le=\"0.2\"} 100392\n"
    "http_request_duration_seconds_bucket{le=\"0.5\"} 129389\n"
    "http_request_duration_seconds_bucket{le=\"1\"} 133988\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
    "http_request_duration_seconds_sum 53423\n"
    "http_request_duration_seconds_count 144320\n";

const SeriesFilter kAll = [](const std::map<std::string, std::string>&) { return true; };

TEST(PrometheusHistogram, QuantilesAsHistogramQuantile) {
  const PrometheusScrape s = ParsePrometheusText(kDocHistogram, "doc.txt");
  const std::optional<PrometheusHistogram> h = ReadHistogram(s, "http_request_duration_seconds", kAll);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->buckets.size(), 6u);
  EXPECT_EQ(h->count, 144320);
  EXPECT_EQ(h->sum, 53423);

  // Median: rank 72160 lies in (0.1, 0.2], which holds 100392 - 33444 =
  // 66948 observations from rank 33444: 0.1 + 0.1 x (72160 - 33444) / 66948.
  const auto median = EstimateQuantile(*h, 0.5);
  ASSERT_TRUE(median);
  EXPECT_NEAR(median->value, 0.1 + 0.1 * (72160.0 - 33444) / 66948, 1e-12);
  EXPECT_EQ(median->lower, 0.1);
  EXPECT_EQ(median->upper, 0.2);
  EXPECT_FALSE(median->beyond_last_bound);
  // First bucket: from 0. Rank 0.1 x 144320 = 14432 of 24054 in (0, 0.05].
  EXPECT_NEAR(EstimateQuantile(*h, 0.1)->value, 0.05 * 14432 / 24054, 1e-12);
  // p90: rank 129888 lies in (0.5, 1]: 0.5 + 0.5 x (129888 - 129389) / 4599.
  EXPECT_NEAR(EstimateQuantile(*h, 0.9)->value, 0.5 + 0.5 * 499 / 4599, 1e-12);
  // p99: rank 142876.8 is past the last finite bucket (133988): the highest
  // finite bound, flagged as only a lower bound.
  const auto p99 = EstimateQuantile(*h, 0.99);
  EXPECT_EQ(p99->value, 1);
  EXPECT_TRUE(p99->beyond_last_bound);
  // No observations: no estimate.
  PrometheusHistogram empty = *h;
  for (auto& b : empty.buckets) b.count = 0;
  empty.count = 0;
  EXPECT_FALSE(EstimateQuantile(empty, 0.5));
}

TEST(PrometheusHistogram, SeriesAddAndIncrease) {
  const std::string two_engines =
      "# TYPE lat histogram\n"
      "lat_bucket{engine=\"0\",le=\"1.0\"} 3\nlat_bucket{engine=\"0\",le=\"+Inf\"} 4\n"
      "lat_sum{engine=\"0\"} 5\nlat_count{engine=\"0\"} 4\n"
      "lat_bucket{engine=\"1\",le=\"1\"} 1\nlat_bucket{engine=\"1\",le=\"+Inf\"} 2\n"
      "lat_sum{engine=\"1\"} 2.5\nlat_count{engine=\"1\"} 2\n";
  const auto h = ReadHistogram(ParsePrometheusText(two_engines, "a.txt"), "lat", kAll);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->series, 2);
  EXPECT_EQ(h->buckets[0].count, 4);  // le 1.0 and le 1 are one bound
  EXPECT_EQ(h->count, 6);
  EXPECT_EQ(h->sum, 7.5);
  // Only engine 1.
  const auto one = ReadHistogram(ParsePrometheusText(two_engines, "a.txt"), "lat",
                                 [](const auto& l) { return l.at("engine") == "1"; });
  EXPECT_EQ(one->count, 2);
  // Absent: nullopt.
  EXPECT_FALSE(ReadHistogram(ParsePrometheusText(two_engines, "a.txt"), "other", kAll));

  PrometheusHistogram later = *h;
  later.buckets[0].count += 10;
  later.buckets[1].count += 12;
  later.count += 12;
  later.sum += 9;
  const PrometheusHistogram d = HistogramIncrease(*h, later, "lat", "a.txt", "b.txt");
  EXPECT_EQ(d.buckets[0].count, 10);
  EXPECT_EQ(d.buckets[1].count, 12);
  EXPECT_EQ(d.count, 12);
  EXPECT_EQ(d.sum, 9);
  const std::string reset = MessageOf<InputError>([&] { HistogramIncrease(later, *h, "lat", "b.txt", "a.txt"); });
  EXPECT_TRUE(Contains(reset, "a.txt: lat: the count of bucket le=1 went down from 14 (in b.txt) to 4: the server "
                              "restarted between the scrapes"))
      << reset;
  EXPECT_TRUE(Contains(reset, "wrong order")) << reset;
}

TEST(PrometheusHistogram, BadHistogramsNameTheLine) {
  struct Case {
    std::string text, expected;
  };
  const std::string t = "# TYPE lat histogram\n";
  const Case cases[] = {
      {t + "lat_bucket{le=\"1\"} 3\nlat_sum 1\nlat_count 3\n", "x.txt: line 2: lat has no le=\"+Inf\" bucket"},
      {t + "lat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 1\nlat_count 2\n",
       "x.txt: line 3: the cumulative count of lat falls from 3 (le 1) to 2 (le +Inf)"},
      {t + "lat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 1\nlat_count 5\n",
       "x.txt: line 5: lat_count is 5 but its +Inf bucket (line 3) counts 4"},
      {t + "lat_bucket{le=\"+Inf\"} 4\nlat_sum 1\n", "x.txt: line 2: lat has no lat_count"},
      {t + "lat_bucket{le=\"+Inf\"} 4\nlat_count 4\n", "x.txt: line 2: lat has no lat_sum"},
      {t + "lat_bucket{le=\"1\"} 1\nlat_bucket{le=\"1.0\"} 1\nlat_bucket{le=\"+Inf\"} 1\nlat_sum 1\nlat_count 1\n",
       "x.txt: line 3: lat has two buckets with le 1.0 (also on line 2)"},
      {t + "lat_bucket{le=\"+Inf\"} NaN\nlat_sum 1\nlat_count 1\n", "x.txt: line 2: expected a finite count >= 0"},
      {t + "lat_bucket{le=\"+Inf\"} 1\nlat_sum -1\nlat_count 1\n", "x.txt: line 3: expected a finite sum >= 0 for lat"},
      {t + "lat_sum 1\nlat_count 1\n", "x.txt: line 2: the histogram lat has no _bucket samples"},
      {t + "lat_bucket{e=\"0\",le=\"1\"} 1\nlat_bucket{e=\"0\",le=\"+Inf\"} 1\nlat_sum{e=\"0\"} 1\nlat_count{e=\"0\"} 1\n"
           "lat_bucket{e=\"1\",le=\"2\"} 1\nlat_bucket{e=\"1\",le=\"+Inf\"} 1\nlat_sum{e=\"1\"} 1\nlat_count{e=\"1\"} 1\n",
       "the series of lat have different bucket bounds, so they cannot be added"},
      {"# TYPE lat gauge\nlat 1\n", "x.txt: lat: expected a histogram, its # TYPE is gauge"},
  };
  for (const Case& c : cases) {
    const std::string message = MessageOf<InputError>([&] { ReadHistogram(ParsePrometheusText(c.text, "x.txt"), "lat", kAll); });
    EXPECT_TRUE(Contains(message, c.expected)) << "input: " << c.text << "\nmessage: " << message;
  }
}

}  // namespace
}  // namespace roofplan
