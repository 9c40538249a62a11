"""roofplan: cost and capacity planning for serving large language models.

Each function runs the roofplan command of its name in this process and
returns what that command prints with ``--format json``, as Python objects
(``json.loads`` of the same text): one contract with the command line.

    >>> import roofplan
    >>> r = roofplan.estimate(model="llama-3.1-8b", gpu="h100-sxm", isl=1000, osl=250, concurrency=32)
    >>> r["itl_ms"], r["usd_per_1m_output_tokens"]

Keyword arguments are the command's flags (``roofplan estimate --help``, or
``print(roofplan.cli("estimate", "--help"))``): ``num_gpus=8`` is
``--num-gpus=8``; ``True`` is a bare flag (``fit=True``); ``None`` and
``False`` leave the flag out; a list or tuple is comma-separated
(``spec_acceptance=[0.8, 0.5]``). ``scenario`` is a scenario file's path, or
a dict in the scenario file's format (relative paths in it are relative to
the working directory).

Bad input raises InputError, a ValueError, with the message the command
line prints after "roofplan: error: "; a deployment that cannot work
raises DoesNotFitError, an InputError (the command line's exit status 3).
What the command line writes to standard error as warnings (lengths cut to
the context, files skipped) is issued as a RoofplanWarning.

The calls release the GIL, so several can run at once in threads. Catalog
and calibration files are read once per process, as in the command line.
"""

import json
import os
import warnings

from . import _roofplan

__all__ = [
    "estimate",
    "step",
    "memory",
    "simulate",
    "plan",
    "validate",
    "models",
    "gpus",
    "engines",
    "cli",
    "InputError",
    "DoesNotFitError",
    "RoofplanWarning",
]


class InputError(ValueError):
    """Bad input: the command line's one-line message (exit status 2)."""


class DoesNotFitError(InputError):
    """A deployment that cannot work, e.g. the model does not fit (exit status 3)."""


class RoofplanWarning(UserWarning):
    """A warning the command line prints on standard error."""


def _raise_failure(kind, message):
    if kind == "does_not_fit":
        raise DoesNotFitError(message)
    if kind == "input":
        raise InputError(message)
    raise RuntimeError("roofplan: internal error: " + message)


def _warn(stderr):
    for line in stderr.splitlines():
        for prefix in ("roofplan: ", "warning: "):
            line = line[len(prefix):] if line.startswith(prefix) else line
        if line:
            warnings.warn(line, RoofplanWarning, stacklevel=4)


def _run(args, scenario_json=None, plan_json=None):
    """(status, stdout) of `roofplan ARGS...`; failures raise."""
    status, out, err, kind, message = _roofplan.run(list(args), scenario_json, plan_json)
    _warn(err)
    if kind:
        _raise_failure(kind, message)
    return status, out


def _flag_args(flags):
    args = []
    for name, value in flags.items():
        if name == "format":
            raise TypeError("format: the functions return the JSON report as Python objects; "
                            "roofplan.cli(...) prints the other formats")
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        # One word, so that a value starting with '-' is not read as a flag.
        args.append(flag + "=" + str(value))
    return args


def _scenario_input(scenario):
    """(extra args, scenario JSON text) for a scenario path or dict."""
    if scenario is None:
        return [], None
    if isinstance(scenario, dict):
        return [], json.dumps(scenario)
    if isinstance(scenario, (str, os.PathLike)):
        return ["--scenario=" + os.fspath(scenario)], None
    raise TypeError("scenario: expected a file path or a dict, got " + type(scenario).__name__)


def _json_command(command, positional, flags, scenario=None, plan_json=None):
    scenario_args, scenario_json = _scenario_input(scenario)
    args = [command, *positional, *scenario_args, *_flag_args(flags), "--format=json"]
    _, out = _run(args, scenario_json, plan_json)
    return json.loads(out)


def cli(*args, scenario=None, plan=None):
    """Runs ``roofplan ARGS...`` and returns what it prints, in any format.

    ``cli("estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl",
    "1000", "--osl", "250")`` returns the table the command line prints.
    ``scenario`` and ``plan`` take dicts (as the functions do); failures
    raise as the functions do.
    """
    scenario_json = json.dumps(scenario) if scenario is not None else None
    plan_json = json.dumps(plan) if plan is not None else None
    _, out = _run([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args], scenario_json, plan_json)
    return out


def estimate(scenario=None, **flags):
    """``roofplan estimate``: steady-state TTFT, ITL, throughput and cost (a dict)."""
    return _json_command("estimate", [], flags, scenario)


def step(scenario=None, **flags):
    """``roofplan step``: the time of one prefill or decode step, op by op (a dict)."""
    return _json_command("step", [], flags, scenario)


def memory(scenario=None, **flags):
    """``roofplan memory``: per-GPU memory and KV-cache capacity (a dict).

    A deployment that does not fit is reported (``fits`` false), not raised.
    """
    return _json_command("memory", [], flags, scenario)


def simulate(scenario=None, **flags):
    """``roofplan simulate``: the request-by-request simulation (a dict)."""
    return _json_command("simulate", [], flags, scenario)


def plan(plan, **flags):
    """``roofplan plan``: the cheapest deployments that meet the SLOs (a dict).

    ``plan`` is a plan file's path, or a dict in the plan file's format.
    """
    if isinstance(plan, dict):
        return _json_command("plan", [], flags, plan_json=json.dumps(plan))
    if isinstance(plan, (str, os.PathLike)):
        return _json_command("plan", [os.fspath(plan)], flags)
    raise TypeError("plan: expected a file path or a dict, got " + type(plan).__name__)


def validate(measured, scenario=None, **flags):
    """``roofplan validate``: benchmark results against the simulation of their load.

    ``measured`` is a result file or directory, or a list of them. Returns a
    dict for one run, a list for several (as the command line prints).
    """
    if isinstance(measured, (str, os.PathLike)):
        measured = [measured]
    return _json_command("validate", [os.fspath(m) for m in measured], flags, scenario)


def models():
    """``roofplan list models``: the model catalog (a list of dicts)."""
    return _json_command("list", ["models"], {})


def gpus():
    """``roofplan list gpus``: the GPU catalog (a list of dicts)."""
    return _json_command("list", ["gpus"], {})


def engines():
    """``roofplan list engines``: the engine presets (a list of dicts)."""
    return _json_command("list", ["engines"], {})


__version__ = cli("--version").split()[-1]
