#!/usr/bin/env python3
"""Simulated vs measured online serving (shared/validation/serving/dev_serving.json).

  python3 tools/serving_accuracy.py [--roofplan build/roofplan] [--data DIR] [--rows]

Each load point whose model and GPU are in the catalog becomes a scenario:
its GPUs, tp and pp, its engine preset, its weight and KV dtypes (left to the
checkpoint where the row says "checkpoint default"), its max_num_seqs /
max_num_batched_tokens / max_model_len where the row states them, and its
load: Poisson at the row's rate, every request at t=0 for rate "inf" (a
closed loop of num_requests users), or a closed loop of max_concurrency.
Lengths: the runs whose detailed vLLM result is in raw/ (surajssd llm-k8s)
replay those files' per-request lengths through `roofplan validate`; other
ShareGPT runs (gpustack) go through `roofplan validate --lengths sharegpt` as
a vLLM result of their totals, which draws ShareGPT's spread of lengths at
their means; the rest run at their mean lengths. inference-perf runs (blis-training)
re-tokenize the streamed text, so their output lengths, TPOT and token
throughput undercount what the server did: they run at the requested
output_len (ignore_eos) and are compared on TTFT, E2E and request throughput. `roofplan simulate` runs it; the
error of TTFT, TPOT and output throughput is summarised as median and p90 of
|predicted - measured| / measured and the signed median (> 0: predicted too
high). Nothing is fitted.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

MODELS = [  # prefix of the HF name -> catalog slug (same architecture only)
    ("meta-llama/Llama-2-7b", "llama-2-7b"),
    ("meta-llama/Llama-2-70b", "llama-2-70b"),
    ("mistralai/Mixtral-8x7B", "mixtral-8x7b"),
    ("meta-llama/Llama-3.3-70B", "llama-3.1-70b"),  # Llama-3.1-70B's config
    ("openai/gpt-oss-120b", "gpt-oss-120b"),
    ("openai/gpt-oss-20b", "gpt-oss-20b"),
    ("Qwen/Qwen3-32B", "qwen3-32b"),
    ("Qwen/Qwen3-235B-A22B", "qwen3-235b-a22b"),
    ("Qwen/Qwen3-14B", "qwen3-14b"),
    ("codellama/CodeLlama-34b", "codellama-34b"),
    ("zai-org/GLM-4.5-Air", "glm-4.5-air"),
    ("zai-org/GLM-4.6", "glm-4.6"),
    ("deepseek-ai/DeepSeek-V2.5", "deepseek-v2.5"),
]
ENGINES = {"vLLM": "vllm", "SGLang": "sglang", "TensorRT-LLM": "trtllm"}
ENGINE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engines")


def engine_preset(row):
    """The preset of the row's engine version ("vllm-0.11") when engines/ has
    one, else the family's; as validation/measured_cases.cc chooses."""
    family = ENGINES.get(row["engine"])
    m = re.search(r"(\d+)\.(\d+)", row.get("engine_version") or "")
    if family and m and os.path.exists(os.path.join(ENGINE_DIR, f"{family}-{m[1]}.{m[2]}.json")):
        return f"{family}-{m[1]}.{m[2]}"
    return family


def model_slug(name):
    for prefix, slug in MODELS:
        if name.startswith(prefix):
            return slug
    return None


def gpu_slug(name):
    if name.startswith("H100 SXM"):
        return "h100-sxm"
    if name.startswith("A100 SXM 80GB"):
        return "a100-80gb-sxm"
    if name.startswith("A100 SXM4 40GB"):
        return "a100-40gb-sxm"
    return None


def dtype(text):
    """The row's dtype, or None to leave it to the checkpoint / engine."""
    if text is None or "checkpoint" in text or text.startswith("auto"):
        return None
    for name in ("bf16", "fp16", "fp8", "int4", "int8"):
        if text.startswith(name):
            return name
    return None


def engine_overrides(row):
    args = row.get("engine_args") or ""
    if not isinstance(args, str):
        args = json.dumps(args)
    flags = args.replace("-", "_")
    out = {}
    for key in ("max_num_seqs", "max_num_batched_tokens"):
        m = re.search(key + r"[:= \"]+(\d+)", flags)
        if m:
            out[key] = int(m.group(1))
    # TensorRT-LLM's --max_num_tokens; where a variant label restates it,
    # the last mention is the run's (as validation/measured_cases.cc reads it).
    for m in re.finditer(r"max_num_tokens[:= \"]+(\d+)", flags):
        out["max_num_batched_tokens"] = int(m.group(1))
    if "--async-scheduling" in args:  # vLLM's opt-in overlap before 0.14
        out["overlap_scheduling"] = True
    if "enable_chunked_prefill" in flags:  # TensorRT-LLM splits long prompts
        out["splits_long_prompts"] = True
    return out


def scenario(row):
    model, gpu = model_slug(row["model"]), gpu_slug(row["gpu"])
    engine = engine_preset(row)
    if not model or not gpu or not engine or row.get("spec_decode"):
        return None
    s = {"model": model, "gpu": gpu, "num_gpus": row["num_gpus"], "tp": row["tp"], "pp": row["pp"] or 1}
    if row.get("ep"):
        s["ep"] = row["ep"]
    w, kv = dtype(row.get("weight_dtype")), dtype(row.get("kv_dtype"))
    if w:
        s["weight_dtype"] = w
    if kv:
        s["kv_dtype"] = kv
    s["engine"] = dict(preset=engine, **engine_overrides(row))
    isl = max(1, round(row["isl"]["mean"]))
    osl = max(1, round(row["osl"]["mean"]))
    # inference-perf re-tokenizes the streamed text, so its output lengths
    # undercount what the server generated; with ignore_eos that is exactly
    # the requested output_len (as validation/measured_cases.cc replays it).
    requested = re.search(r"output_len=(\d+) \(ignore_eos=true\)", row.get("dataset") or "")
    if retokenized(row) and requested:
        osl = int(requested[1])
    n = row["num_requests"]
    workload = {"isl": isl, "osl": osl, "num_requests": n, "seed": 1}
    rate = row["request_rate"]
    if rate == "inf":
        workload["concurrency"] = n
    elif rate is None:
        workload["concurrency"] = row["max_concurrency"]
    else:
        workload["arrival"] = {"process": "poisson", "rate_per_s": float(rate)}
    # inference-perf's shared_prefix data ("11 system prompts x 4 users,
    # system_prompt_len=100"): every prompt opens with one of the system
    # prompts, which prefix caching prefills once.
    shared = re.search(r"(\d+) system prompts x \d+ users?, system_prompt_len=(\d+)", row.get("dataset") or "")
    if shared:
        workload["prefix"] = {"tokens": int(shared[2]), "hit_rate": 1.0, "groups": int(shared[1])}
    s["workload"] = workload
    return s


def vllm_result(row):
    """The row as `vllm bench serve` saves a run without --save-detailed: its load and totals."""
    n = row["num_requests"]
    rate = row["request_rate"]
    meas = measured(row)
    return {
        "completed": n,
        "request_rate": "inf" if rate in ("inf", None) else float(rate),
        "max_concurrency": row.get("max_concurrency"),
        "total_input_tokens": round(row["isl"]["mean"] * n),
        "total_output_tokens": round(row["osl"]["mean"] * n),
        # The measured figures, so that validate reports the same three.
        **{k: v for k, v in (("mean_ttft_ms", meas.get("ttft_mean_ms")),
                             ("mean_tpot_ms", meas.get("tpot_mean_ms")),
                             ("output_throughput", meas.get("output_tokens_per_s"))) if v},
    }


def retokenized(row):
    """inference-perf runs: their TPOT, ITL and token counts come from re-tokenized text."""
    return "inference-perf" in (row.get("notes") or "")


def measured(row):
    m = row["metrics"]
    out = {}
    if m.get("ttft_ms") and m["ttft_ms"].get("mean") is not None:
        out["ttft_mean_ms"] = m["ttft_ms"]["mean"]
    if retokenized(row):
        # Only what re-tokenizing leaves sound (the data's README): TTFT,
        # E2E and the request rate.
        if m.get("e2e_ms") and m["e2e_ms"].get("mean") is not None:
            out["e2e_mean_ms"] = m["e2e_ms"]["mean"]
        if m.get("request_throughput"):
            out["request_throughput"] = m["request_throughput"]
        return out
    # inference-perf's own TPOT is not per-token decode time (README of the
    # data): use the e2e-derived mean where the source gives it.
    derived = (m.get("derived") or {}).get("tpot_ms_mean_from_e2e")
    if derived is not None:
        out["tpot_mean_ms"] = derived
    elif m.get("tpot_ms") and m["tpot_ms"].get("mean") is not None:
        out["tpot_mean_ms"] = m["tpot_ms"]["mean"]
    if m.get("output_tokens_per_s"):
        out["output_tokens_per_s"] = m["output_tokens_per_s"]
    return out


def predicted(result):
    return {
        "ttft_mean_ms": result["ttft_ms"]["mean"],
        "tpot_mean_ms": result["tpot_ms"]["mean"],
        "output_tokens_per_s": result["output_tokens_per_s"],
        "e2e_mean_ms": result["e2e_ms"]["mean"],
        "request_throughput": result["request_throughput"],
    }


def predicted_from_validate(result):
    by_name = {m["metric"]: m["predicted"] for m in result["metrics"]}
    return {
        "ttft_mean_ms": by_name.get("ttft_ms.mean"),
        "tpot_mean_ms": by_name.get("tpot_ms.mean"),
        "output_tokens_per_s": by_name.get("output_tokens_per_s"),
        "e2e_mean_ms": by_name.get("e2e_ms.mean"),
        "request_throughput": by_name.get("request_throughput"),
    }


def quantile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def find_key(obj, key):
    """The first value of `key` anywhere in a JSON result (None when absent)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            found = find_key(v, key)
            if found is not None:
                return found
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--roofplan", default=os.path.join(here, "..", "build", "roofplan"))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "validation", "serving"))
    ap.add_argument("--rows", action="store_true", help="print every row")
    args = ap.parse_args()
    rows = json.load(open(os.path.join(args.data, "dev_serving.json")))
    errors = {}  # metric -> [signed relative errors]
    by_model = {}  # (catalog model, metric) -> [signed relative errors]
    by_engine = {}  # (engine preset, metric) -> [signed relative errors]
    skipped, failed = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            s = scenario(row)
            if s is None:
                skipped += 1
                continue
            path = os.path.join(tmp, "s.json")
            with open(path, "w") as f:
                json.dump(s, f)
            raw = os.path.join(args.data, "raw", row.get("raw") or "")
            if row.get("raw", "").endswith(".json.gz") and os.path.isfile(raw):
                # A detailed vLLM result (the data keeps those gzipped): validate replays its
                # per-request lengths at the row's load.
                run = subprocess.run([args.roofplan, "validate", raw, "--scenario", path, "--format", "json"],
                                     capture_output=True, text=True)
            elif "ShareGPT" in (row.get("dataset") or ""):
                # Mean lengths only: the run as a vLLM result file that kept its totals, replayed
                # with ShareGPT's spread of lengths at those means (validate --lengths sharegpt,
                # as roofplan_fit_public replays it).
                result = os.path.join(tmp, "result.json")
                with open(result, "w") as f:
                    json.dump(vllm_result(row), f)
                run = subprocess.run([args.roofplan, "validate", result, "--scenario", path, "--lengths",
                                      "sharegpt", "--format", "json"], capture_output=True, text=True)
            else:
                run = subprocess.run([args.roofplan, "simulate", path, "--format", "json"], capture_output=True,
                                     text=True)
            if run.returncode != 0:
                failed.append((row["id"], run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "?"))
                continue
            result = json.loads(run.stdout)
            pred = predicted_from_validate(result) if "metrics" in result and "file" in result else predicted(result)
            meas = measured(row)
            line = []
            for k, v in meas.items():
                e = (pred[k] - v) / v
                errors.setdefault(k, []).append(e)
                by_model.setdefault((s["model"], k), []).append(e)
                by_engine.setdefault((s["engine"]["preset"], k), []).append(e)
                line.append(f"{k} {pred[k]:.4g}/{v:.4g} {100 * e:+.0f}%")
            if args.rows:
                n = find_key(result, "preemptions")
                extra = f" | preemptions {n}" if n else ""
                print(row["id"], s["engine"]["preset"], "|", "; ".join(line) + extra)
    compared = len(rows) - skipped - len(failed)
    print(f"{len(rows)} load points: {compared} simulated, {skipped} not in the catalog (model, GPU, engine) "
          f"or speculative, {len(failed)} refused by roofplan")
    for rid, why in failed:
        print(f"  refused: {rid}: {why}")
    def summary(label, e):
        a = [abs(x) for x in e]
        print(f"{label:<40} {len(e):>3} rows: median {100 * quantile(a, 0.5):.1f}%, p90 {100 * quantile(a, 0.9):.1f}%, "
              f"signed median {100 * quantile(e, 0.5):+.1f}%")

    for k, e in errors.items():
        summary(k, e)
    print("by engine preset:")
    for (engine, k), e in sorted(by_engine.items()):
        summary(f"  {engine} {k}", e)
    print("by model:")
    for (model, k), e in sorted(by_model.items()):
        summary(f"  {model} {k}", e)


if __name__ == "__main__":
    sys.exit(main())
