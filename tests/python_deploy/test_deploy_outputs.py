"""roofplan deploy on every shipped scenario at every release of its engine.

Every YAML it writes must parse (PyYAML, all documents), every flag of a
launch command and every key of an engine YAML must be one the engine's
table (engines/flags/<engine>.json) lists for that release, and the
manifests must run the same command with the GPUs and node label of the
table. A release that cannot carry a setting must say so (exit 2, naming
the release) and only where the table says it cannot: the combinations
refused are listed below, every other one must deploy.

Run by ctest (deploy_outputs) with ROOFPLAN_BINARY pointing at the build's
roofplan; by hand: ROOFPLAN_BINARY=build/roofplan python3 -m pytest tests/python_deploy
"""

import json
import os
import pathlib
import shlex
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("ROOFPLAN_BINARY", str(ROOT / "build" / "roofplan"))
TABLES = {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "engines" / "flags").glob("*.json"))}
LABELS = json.loads((ROOT / "gpu_profiles" / "kubernetes" / "labels.json").read_text())["gpus"]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))

# (scenario, engine, release) -> what the refusal must say. Every other
# combination must deploy.
REFUSED = {
    ("llama-3.1-8b-multiturn-4xl40s", "vllm", "0.8"): "vllm 0.8 has no option",
    ("llama-3.1-8b-multiturn-4xl40s", "vllm", "0.10"): "vllm 0.10 has no option",
    ("llama-3.1-8b-multiturn-4xl40s", "vllm", "0.11"): "vllm 0.11 has no option",
    ("llama-3.1-70b-rag-disagg-8xh100", "vllm", "0.8"): "no Dynamo release",
    ("llama-3.1-70b-rag-disagg-8xh100", "vllm", "0.10"): "no Dynamo release",
    ("llama-3.1-70b-rag-disagg-8xh100", "vllm", "0.15"): "no Dynamo release",
}

# TensorRT-LLM serves fp8 weights only from an fp8 checkpoint: the runs
# name one (deploy refuses without, tested below).
FP8_CHECKPOINT = "/models/fp8-checkpoint"


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def forms(option):
    return option if isinstance(option, list) else [option]


def in_range(form, version):
    if version_key(version) < version_key(form["since"]):
        return False
    return "until" not in form or version_key(version) <= version_key(form["until"])


def options_at(table, version):
    """name -> the option's form in force at `version`."""
    out = {}
    for name, option in table["options"].items():
        for form in forms(option):
            if in_range(form, version):
                out[name] = form
    return out


def engine_of(scenario):
    engine = json.loads(scenario.read_text()).get("engine", "vllm")
    if isinstance(engine, dict):
        engine = engine.get("preset", "vllm")
    for name, table in TABLES.items():
        if engine in table.get("presets", []) or engine in [r["preset"] for r in table["versions"]]:
            return name
    return None


CASES = [
    pytest.param(s, e, r["version"], id=f"{s.stem}-{e}-{r['version']}")
    for s in SCENARIOS
    if (e := engine_of(s))
    for r in TABLES[e]["versions"]
]


def run_deploy(scenario, version, out, extra=()):
    cmd = [BINARY, "deploy", str(scenario), "--engine-version", version, "--out", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def is_flag(arg):
    return arg.startswith("--") or (len(arg) == 2 and arg[0] == "-" and arg[1].isalpha())


def flatten(mapping, prefix=""):
    """Dotted key paths of nested mappings (lists are values)."""
    keys = set()
    for k, v in mapping.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            keys |= flatten(v, path + ".")
        else:
            keys.add(path)
    return keys


def launch_sh_argv(text):
    """The exec'd command of a single-pool launch.sh, its lines joined."""
    joined = text.replace("\\\n", " ")
    line = next(l for l in joined.splitlines() if l.startswith("exec "))
    return shlex.split(line[len("exec "):])


def check_launch(pool, table, version):
    argv = pool["launch"]
    opts = options_at(table, version)
    flags = {f["flag"] for f in opts.values() if "flag" in f}
    role = pool["role"]
    dyn = table["dynamo"]
    if role == "aggregated":
        prefix = table["command"]
    else:
        prefix = ["python3", "-m", dyn["module"]]
        flags |= {dyn["model_flag"], dyn.get("config_flag", "--x")}
        flags |= {a for a in dyn["roles"][role] if is_flag(a)}
    assert argv[: len(prefix)] == prefix
    for arg in argv[len(prefix):]:
        if is_flag(arg):
            assert arg in flags, f"{arg}: not in engines/flags/{table['engine']}.json at {version}"
    # Keys of the JSON some flags carry (vLLM's --speculative-config).
    for name, form in opts.items():
        if form.get("json") and form["flag"] in argv:
            carried = json.loads(argv[argv.index(form["flag"]) + 1])
            allowed = {f["key"] for f in opts.values() if f.get("in") == name}
            assert set(carried) <= allowed, carried
    # Keys of the engine YAML (TensorRT-LLM's LLM API options).
    if pool["engine_config"] is not None:
        allowed = {f["key"] for f in opts.values() if "key" in f and "in" not in f}
        assert flatten(pool["engine_config"]) <= allowed, flatten(pool["engine_config"]) - allowed
    # Every setting says what carries it.
    for s in pool["settings"]:
        assert s["carried_by"] and s["source"], s


def with_config_at(pool, folder):
    """The pool's launch with its engine YAML (named by file in plan.json) in `folder`."""
    name = pool["engine_config_file"]
    return [f"{folder}/{name}" if name and a == name else a for a in pool["launch"]]


def check_manifests(docs, plan):
    assert docs and all("apiVersion" in d and "kind" in d for d in docs)
    kinds = [d["kind"] for d in docs]
    pools = plan["pools"]
    for pool in pools:
        label = LABELS[pool["gpu"]]
        assert pool["kubernetes"]["node_label"] == label["label"]
        assert pool["kubernetes"]["node_label_value"] == label["value"]
    if len(pools) == 2:
        assert "DynamoGraphDeployment" in kinds
        dgd = next(d for d in docs if d["kind"] == "DynamoGraphDeployment")
        services = dgd["spec"]["services"]
        for pool, svc in zip(pools, ["PrefillWorker", "DecodeWorker"]):
            s = services[svc]
            assert s["subComponentType"] == pool["role"]
            assert s["replicas"] == pool["replicas"]
            assert s["resources"]["limits"]["gpu"] == str(pool["gpus_per_pod"])
            c = s["extraPodSpec"]["mainContainer"]
            assert c["command"] + c["args"] == with_config_at(pool, "/etc/roofplan")
            assert s["extraPodSpec"]["nodeSelector"] == {label["label"]: LABELS[pool["gpu"]]["value"]}
        return
    pool = pools[0]
    assert "Service" in kinds
    workload = next(d for d in docs if d["kind"] in ("Deployment", "LeaderWorkerSet"))
    assert workload["spec"]["replicas"] == pool["replicas"]
    if workload["kind"] == "Deployment":
        assert pool["nodes_per_replica"] == 1
        spec = workload["spec"]["template"]["spec"]
        assert spec["containers"][0]["command"] == with_config_at(pool, "/etc/roofplan")
    else:
        assert workload["spec"]["leaderWorkerTemplate"]["size"] == pool["nodes_per_replica"]
        spec = workload["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]
    label = LABELS[pool["gpu"]]
    assert spec["nodeSelector"] == {label["label"]: label["value"]}
    limits = spec["containers"][0]["resources"]["limits"]
    assert limits[label["resource"]] == str(pool["gpus_per_pod"])


@pytest.mark.parametrize("scenario,engine,version", CASES)
def test_deploy(scenario, engine, version, tmp_path):
    extra = ["--model-path", FP8_CHECKPOINT] if engine == "trtllm" else []
    r = run_deploy(scenario, version, tmp_path, extra)
    refusal = REFUSED.get((scenario.stem, engine, version))
    if refusal:
        assert r.returncode == 2, r.stdout + r.stderr
        assert refusal in r.stderr and r.stderr.count("\n") == 1, r.stderr
        return
    assert r.returncode == 0, r.stderr

    # Every YAML parses, every document of it.
    docs = {}
    for path in tmp_path.glob("*.yaml"):
        docs[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs[path.name], path
    plan = json.loads((tmp_path / "plan.json").read_text())
    table = TABLES[engine]
    assert plan["engine"]["name"] == engine and plan["engine"]["version"] == version
    release = next(x for x in table["versions"] if x["version"] == version)
    for pool in plan["pools"]:
        check_launch(pool, table, version)
        if pool["engine_config"] is not None:
            assert docs[pool["engine_config_file"]] == [pool["engine_config"]]
    check_manifests(docs["k8s.yaml"], plan)
    if len(plan["pools"]) == 1:
        images = [c["image"] for d in docs["k8s.yaml"] if d["kind"] in ("Deployment", "LeaderWorkerSet")
                  for c in (d["spec"]["template"]["spec"]["containers"] if d["kind"] == "Deployment"
                            else d["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"])]
        assert images == [release["image"]]
        # launch.sh runs the command plan.json records.
        argv = launch_sh_argv((tmp_path / "launch.sh").read_text())
        model = plan["model"]["checkpoint"]
        config = str(tmp_path / str(plan["pools"][0]["engine_config_file"]))
        want = with_config_at(plan["pools"][0], str(tmp_path))
        got = [a.replace("$MODEL", model).replace("$CONFIG", config) for a in argv]
        if plan["pools"][0]["nodes_per_replica"] == 1:
            assert got == want
    # inference-perf: only its schema's sections; the load's requests.
    ip = docs["inference-perf.yaml"][0]
    assert set(ip) <= {"api", "data", "load", "report", "storage", "server", "tokenizer", "metrics"}
    assert ip["data"]["input_distribution"]["total_count"] == plan["load"]["num_requests"]
    # The scripts are valid bash.
    for script in ("launch.sh", "bench.sh"):
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)
        assert os.access(tmp_path / script, os.X_OK)
    # The scenario written is one roofplan reads and sizes the same way.
    mem = subprocess.run([BINARY, "memory", "--scenario", str(tmp_path / "scenario.json"), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert mem.returncode == 0, mem.stderr
    assert json.loads(mem.stdout)["deployment"]["tp"] == plan["pools"][0]["tp"]


def test_fp8_weights_on_trtllm_need_an_fp8_checkpoint(tmp_path):
    r = run_deploy(ROOT / "scenarios" / "llama-3.1-70b-fp8-4xh100.json", "1.0", tmp_path)
    assert r.returncode == 2
    assert "--model-path" in r.stderr and "trtllm 1.0" in r.stderr


def test_every_refusal_is_a_real_case():
    ids = {(s.stem, e, v) for s in SCENARIOS if (e := engine_of(s)) for v in [x["version"] for x in TABLES[e]["versions"]]}
    assert set(REFUSED) <= ids


def run_plan(plan, *args):
    cmd = [BINARY, "plan", str(ROOT / "scenarios" / "plans" / plan), "--threads", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_plan_candidates_deploy_with_their_prediction(tmp_path):
    r = run_plan("mixtral-8x7b-rag-disagg.json", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "plan-output.json"
    out.write_text(r.stdout)
    feasible = json.loads(r.stdout)["feasible"]
    # The cheapest, and the first xPyD split (Dynamo).
    split = next(i for i, c in enumerate(feasible) if c.get("prefill_replicas"))
    for rank in (0, split):
        folder = tmp_path / f"c{rank}"
        d = subprocess.run([BINARY, "deploy", str(out), "--candidate", str(rank), "--engine-version",
                            "vllm-0.11,trtllm-1.2", "--model-path", FP8_CHECKPOINT, "--out", str(folder)],
                           capture_output=True, text=True, timeout=300)
        assert d.returncode == 0, d.stderr
        plan = json.loads((folder / "plan.json").read_text())
        cand = feasible[rank]
        # What was predicted travels with the files.
        assert plan["prediction"]["configuration"] == cand["configuration"]
        assert plan["prediction"]["usd_per_hour"] == cand["usd_per_hour"]
        pools = plan["pools"]
        assert sum(p["replicas"] * p["gpus_per_replica"] for p in pools) == cand["num_gpus"]
        if rank == split:
            assert [p["replicas"] for p in pools] == [cand["prefill_replicas"], cand["decode_replicas"]]
        for path in folder.glob("*.yaml"):
            assert list(yaml.safe_load_all(path.read_text()))
        # The load is the plan's: Poisson arrivals at its rate.
        ip = yaml.safe_load((folder / "inference-perf.yaml").read_text())
        assert ip["load"]["type"] == "poisson"
        assert ip["load"]["stages"][0]["rate"] == json.loads(r.stdout)["requests_per_s"]
    bad = subprocess.run([BINARY, "deploy", str(out), "--candidate", str(len(feasible)), "--engine-version", "0.11",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 2 and f"ranks {len(feasible)} feasible candidates" in bad.stderr


def test_plan_emit_writes_the_best_candidates(tmp_path):
    r = run_plan("llama-3.1-70b-chat-20rps.json", "--emit", str(tmp_path), "--emit-top", "2", "--engine-version",
                 "0.11")
    assert r.returncode == 0, r.stderr
    for rank in (0, 1):
        plan = json.loads((tmp_path / f"candidate-{rank}" / "plan.json").read_text())
        assert plan["engine"] == {**plan["engine"], "name": "vllm", "version": "0.11"}
        assert f"candidate {rank}" in r.stderr
    assert not (tmp_path / "candidate-2").exists()
    # A deploy flag without --emit is refused, not ignored.
    r = run_plan("llama-3.1-70b-chat-20rps.json", "--engine-version", "0.11")
    assert r.returncode == 2 and "--engine-version sets what --emit DIR writes" in r.stderr


def test_plan_emit_refuses_a_gpu_kubernetes_cannot_select(tmp_path):
    # The 2B-tokens-a-day plan's cheapest candidate runs on MI300X, which
    # the GPU label table has no NVIDIA product label for.
    r = run_plan("llama-3.1-8b-2b-tokens-per-day.json", "--emit", str(tmp_path), "--engine-version",
                 "vllm-0.11,sglang-0.5")
    assert r.returncode == 2
    assert "--emit candidate 0" in r.stderr and "GPU mi300x" in r.stderr
