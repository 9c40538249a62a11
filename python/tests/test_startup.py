"""Importing roofplan and running a command loads no CUDA library: the
microkernels are a module (libroofplan_cuda.so, beside the extension in a
CUDA build) that only calibrate loads. Checked in a fresh interpreter,
whose memory map is its own.
"""

import os
import pathlib
import subprocess
import sys

import roofplan

CUDA_LIBRARIES = ("libcudart", "libcublas", "libnccl", "libroofplan_cuda")

# Prints the files mapped into the interpreter after `import roofplan`, an
# estimate and then, with "calibrate" as argument, a calibrate that fails
# (--device 1023 is past any machine's devices) after loading the module.
SCRIPT = """
import sys
import roofplan
roofplan.estimate(model="llama-3.1-8b", gpu="h100-sxm", isl=1000, osl=250, concurrency=32)
if sys.argv[1:] == ["calibrate"]:
    try:
        roofplan.cli("calibrate", "--gpu", "h100-sxm", "--device", "1023", "--out", "/nonexistent/c.json")
    except roofplan.InputError as e:
        print("error:", str(e).replace("\\n", " "))
with open("/proc/self/maps") as maps:
    print("\\n".join(sorted({line.split()[-1] for line in maps if "/" in line})))
"""


def mapped_files(*args):
    r = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True,
                       env=os.environ)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any("_roofplan" in line for line in lines), r.stdout  # the extension's own map
    return lines


def test_import_and_estimate_load_no_cuda_library():
    for line in mapped_files():
        assert not any(lib in line for lib in CUDA_LIBRARIES), line


def test_calibrate_loads_the_module_beside_the_extension():
    beside = pathlib.Path(roofplan.__file__).parent / "libroofplan_cuda.so"
    lines = mapped_files("calibrate")
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    assert "CUDA" in errors[0] or "--device 1023" in errors[0], errors
    if beside.exists():  # a CUDA build
        assert str(beside.resolve()) in lines, lines
        assert any("libcublasLt" in line for line in lines), lines
    else:
        assert not any(lib in line for line in lines for lib in CUDA_LIBRARIES), lines
