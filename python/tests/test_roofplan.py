"""The Python module against the command line: the same input gives the
same JSON, the same errors, in threads as serially.

ctest runs these with PYTHONPATH at build/python and ROOFPLAN_BINARY at the
roofplan binary. The module must import: a build without it fails here,
it is never skipped.
"""

import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import warnings

import pytest

import roofplan

SOURCE = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("ROOFPLAN_BINARY", str(SOURCE / "build" / "roofplan"))
DEFAULT_SCENARIO = str(SOURCE / "scenarios" / "default.json")
PLAN_FILE = str(SOURCE / "scenarios" / "plans" / "llama-3.1-8b-2b-tokens-per-day.json")
LLAMA = {"model": "llama-3.1-8b", "gpu": "h100-sxm"}


def run_cli(*args):
    """The roofplan binary: (exit status, stdout, stderr)."""
    r = subprocess.run([BINARY, *args], capture_output=True, text=True, cwd=SOURCE)
    return r.returncode, r.stdout, r.stderr


def cli_json(*args):
    status, out, err = run_cli(*args, "--format", "json")
    assert status == 0, err
    return out


def cli_error(*args):
    """The message the binary prints after "roofplan: error: ", and its status."""
    status, out, err = run_cli(*args)
    assert out == ""
    assert err.startswith("roofplan: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    return err[len("roofplan: error: "):-1], status


def without_timing(plan_json):
    """A plan's report less the seconds its search took."""
    plan_json = dict(plan_json)
    plan_json.pop("seconds")
    return plan_json


def without_plan_source(plan_json):
    """A plan's report less the plan's name in each candidate's scenario."""
    plan_json = json.loads(json.dumps(plan_json))
    for candidate in plan_json.get("feasible", []):
        if "scenario" in candidate:
            candidate["scenario"].pop("description", None)
    return plan_json


def test_estimate_is_the_cli_json_byte_for_byte():
    args = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl", "1000", "--osl", "250",
            "--concurrency", "32"]
    text = cli_json(*args)
    # The same words in process print the same bytes ...
    assert roofplan.cli(*args, "--format", "json") == text
    # ... and the keyword form returns them parsed.
    result = roofplan.estimate(model="llama-3.1-8b", gpu="h100-sxm", isl=1000, osl=250, concurrency=32)
    assert result == json.loads(text)
    assert isinstance(result["itl_ms"], float) and result["itl_ms"] > 0
    assert result["deployment"]["model"] == "llama-3.1-8b"


def test_other_formats_through_cli():
    args = ["estimate", "--scenario", DEFAULT_SCENARIO, "--format", "csv"]
    status, out, _ = run_cli(*args)
    assert status == 0
    assert roofplan.cli(*args) == out


def test_keyword_flags_map_to_the_cli_flags():
    # snake_case -> --kebab-case, lists comma-separated, True a bare flag.
    got = roofplan.estimate(**LLAMA, num_gpus=2, tp=2, kv_dtype="fp8", isl=2000, osl=200, concurrency="max",
                            spec_method="eagle3", spec_tokens=3, spec_acceptance=[0.8, 0.6, 0.4])
    want = cli_json("estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--num-gpus", "2", "--tp", "2",
                    "--kv-dtype", "fp8", "--isl", "2000", "--osl", "200", "--concurrency", "max",
                    "--spec-method", "eagle3", "--spec-tokens", "3", "--spec-acceptance", "0.8,0.6,0.4")
    assert got == json.loads(want)
    assert got["deployment"]["tp"] == 2
    # None and False leave a flag out.
    assert roofplan.estimate(**LLAMA, isl=100, osl=10, tp=None, pp=False) == roofplan.estimate(**LLAMA, isl=100, osl=10)


@pytest.mark.parametrize("flags, cli_args", [
    ({"isl": 0, "osl": 10}, ["--isl", "0", "--osl", "10"]),
    ({"isl": 100}, ["--isl", "100"]),
    ({"isl": 100, "osl": 10, "tp": -1}, ["--isl", "100", "--osl", "10", "--tp=-1"]),
    ({"isl": 100, "osl": 10, "weight_dtype": "fp7"}, ["--isl", "100", "--osl", "10", "--weight-dtype", "fp7"]),
    ({"isl": 100, "osl": 10, "no_such_flag": 1}, ["--isl", "100", "--osl", "10", "--no-such-flag=1"]),
])
def test_bad_input_raises_the_cli_message(flags, cli_args):
    message, status = cli_error("estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", *cli_args)
    assert status == 2
    with pytest.raises(roofplan.InputError) as raised:
        roofplan.estimate(**LLAMA, **flags)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)
    assert not isinstance(raised.value, roofplan.DoesNotFitError)


def test_unknown_model_names_the_closest():
    message, _ = cli_error("estimate", "--model", "llama-3.1-8", "--gpu", "h100-sxm", "--isl", "1", "--osl", "1")
    with pytest.raises(roofplan.InputError, match="did you mean") as raised:
        roofplan.estimate(model="llama-3.1-8", gpu="h100-sxm", isl=1, osl=1)
    assert str(raised.value) == message


def test_a_deployment_that_cannot_work_is_does_not_fit():
    message, status = cli_error("estimate", "--model", "llama-3.1-405b", "--gpu", "h100-sxm", "--isl", "100",
                                "--osl", "10")
    assert status == 3
    with pytest.raises(roofplan.DoesNotFitError) as raised:
        roofplan.estimate(model="llama-3.1-405b", gpu="h100-sxm", isl=100, osl=10)
    assert str(raised.value) == message
    # memory reports it (exit status 3 with a report) rather than raising.
    report = roofplan.memory(model="llama-3.1-405b", gpu="h100-sxm")
    assert report["fits"] is False
    assert report == json.loads(run_cli("memory", "--model", "llama-3.1-405b", "--gpu", "h100-sxm",
                                        "--format", "json")[1])


def test_format_is_not_a_flag_here():
    with pytest.raises(TypeError, match="roofplan.cli"):
        roofplan.estimate(**LLAMA, isl=1, osl=1, format="csv")


def test_scenario_dict_is_the_scenario_file():
    with open(DEFAULT_SCENARIO) as f:
        scenario = json.load(f)
    want = json.loads(cli_json("estimate", "--scenario", DEFAULT_SCENARIO))
    assert roofplan.estimate(scenario=scenario) == want
    assert roofplan.estimate(scenario=DEFAULT_SCENARIO) == want
    assert roofplan.estimate(scenario=pathlib.Path(DEFAULT_SCENARIO)) == want
    # Flags write over it, as over a file.
    assert roofplan.estimate(scenario=scenario, concurrency=8) == json.loads(
        cli_json("estimate", "--scenario", DEFAULT_SCENARIO, "--concurrency", "8"))


def test_scenario_dict_errors_name_the_dict():
    with pytest.raises(roofplan.InputError) as raised:
        roofplan.estimate(scenario={"model": "llama-3.1-8b", "gpu": "h100-sxm", "tp": "two"}, isl=1, osl=1)
    assert str(raised.value) == '<scenario dict>: $.tp: expected a positive integer, got "two"'
    with pytest.raises(roofplan.InputError, match=r"^<scenario dict>: \$\.modle: unknown field"):
        roofplan.estimate(scenario={"modle": "llama-3.1-8b"})
    with pytest.raises(TypeError):
        roofplan.estimate(scenario=3)


def test_threads_give_the_serial_answers():
    loads = [dict(LLAMA, isl=isl, osl=osl, concurrency=c)
             for isl in (128, 1000, 4000) for osl in (100, 500) for c in (1, 16, 64)]
    serial = [roofplan.estimate(**load) for load in loads]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        threaded = list(pool.map(lambda load: roofplan.estimate(**load), loads))
    assert threaded == serial
    # Simulations (the long calls) as well, each with its own seed.
    sims = [dict(scenario=DEFAULT_SCENARIO, num_requests=150, seed=seed) for seed in (1, 2, 3, 4)]
    serial = [roofplan.simulate(**s) for s in sims]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda s: roofplan.simulate(**s), sims))
    assert threaded == serial
    assert serial[0] != serial[1]


def test_a_long_call_lets_other_threads_run():
    # Were the GIL held through the call, this thread would stop for all of
    # it; released, it runs on, stopped only by the interpreter's switches
    # and the operating system. (The call starts once this thread is timing:
    # a thread blocked from the start would see no stop at all.)
    took = []
    timing = threading.Event()

    def long_call():
        timing.wait()
        start = time.perf_counter()
        roofplan.simulate(scenario=DEFAULT_SCENARIO, num_requests=600000)
        took.append(time.perf_counter() - start)

    thread = threading.Thread(target=long_call)
    thread.start()
    last = time.perf_counter()
    longest_stop = 0.0
    timing.set()
    while thread.is_alive():
        now = time.perf_counter()
        longest_stop = max(longest_stop, now - last)
        last = now
    longest_stop = max(longest_stop, time.perf_counter() - last)
    thread.join()
    assert took[0] > 0.2, "the call was too short to tell"
    assert longest_stop < took[0] / 4, (longest_stop, took[0])


def test_simulate_a_shipped_scenario():
    got = roofplan.simulate(scenario=DEFAULT_SCENARIO, num_requests=300)
    assert got == json.loads(cli_json("simulate", DEFAULT_SCENARIO, "--num-requests", "300"))
    assert got["requests_completed"] == 300


def test_plan_a_shipped_plan():
    got = roofplan.plan(PLAN_FILE, threads=2)
    want = json.loads(cli_json("plan", PLAN_FILE, "--threads", "2"))
    assert without_timing(got) == without_timing(want)
    with open(PLAN_FILE) as f:
        plan_dict = json.load(f)
    # From a dict the candidates' scenarios name "<plan dict>" as their
    # plan, where the file's name its path; nothing else differs.
    assert without_plan_source(without_timing(roofplan.plan(plan_dict, threads=2))) == \
        without_plan_source(without_timing(want))
    with pytest.raises(roofplan.InputError, match=r"^<plan dict>: "):
        roofplan.plan({"model": "llama-3.1-8b"})


def test_step_and_memory():
    assert roofplan.step(**LLAMA, phase="prefill", seq=2048, batch=4) == json.loads(
        cli_json("step", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--phase", "prefill", "--seq", "2048",
                 "--batch", "4"))
    assert roofplan.memory(**LLAMA, context=8192) == json.loads(
        cli_json("memory", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--context", "8192"))


def test_validate_a_benchmark_file():
    measured = str(SOURCE / "tests" / "data" / "vllm_bench_example.json")
    got = roofplan.validate(measured, **LLAMA, concurrency=4)
    assert got == json.loads(cli_json("validate", measured, "--model", "llama-3.1-8b", "--gpu", "h100-sxm",
                                      "--concurrency", "4"))
    assert got["metrics"]


def test_warnings_on_stderr_become_warnings():
    # A directory with files that are not results, and runs that replay the
    # same prompts: each is a line on the binary's stderr ("roofplan:
    # skipped FILE: why", "roofplan: warning: ..."), a RoofplanWarning here.
    data = str(SOURCE / "tests" / "data")
    status, _, err = run_cli("validate", data, "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--format", "json")
    assert status == 0
    lines = err.splitlines()
    assert any(line.startswith("roofplan: skipped ") for line in lines)
    assert any(line.startswith("roofplan: warning: ") for line in lines)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        roofplan.validate(data, **LLAMA)
    messages = [str(w.message) for w in caught if issubclass(w.category, roofplan.RoofplanWarning)]
    assert messages == [line.removeprefix("roofplan: ").removeprefix("warning: ") for line in lines]


def test_catalogs():
    assert roofplan.models() == json.loads(cli_json("list", "models"))
    assert roofplan.gpus() == json.loads(cli_json("list", "gpus"))
    assert roofplan.engines() == json.loads(cli_json("list", "engines"))
    assert "llama-3.1-8b" in [m["slug"] for m in roofplan.models()]
    assert "h100-sxm" in [g["slug"] for g in roofplan.gpus()]
    assert "vllm" in [e["name"] for e in roofplan.engines()]


def test_catalog_found_without_the_environment(tmp_path):
    # As a user imports it: no ROOFPLAN_DATA_DIR, another working directory.
    env = {k: v for k, v in os.environ.items() if k != "ROOFPLAN_DATA_DIR"}
    code = ("import roofplan; print(len(roofplan.models()), "
            "roofplan.estimate(model='llama-3.1-8b', gpu='h100-sxm', isl=1000, osl=250, concurrency=32)['itl_ms'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    count, itl_ms = r.stdout.split()
    assert int(count) == len(roofplan.models())
    assert float(itl_ms) == roofplan.estimate(**LLAMA, isl=1000, osl=250, concurrency=32)["itl_ms"]


def test_version():
    assert roofplan.__version__ == run_cli("--version")[1].split()[-1]
