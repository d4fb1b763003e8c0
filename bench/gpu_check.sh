#!/usr/bin/env bash
# The 'cuda' device end to end, in one pass on a machine with an NVIDIA GPU: install
# srcdiff with the CuPy wheel that matches the machine's CUDA, run the whole test suite
# (every CuPy-parametrised test runs there instead of skipping, and tests/gpu checks the
# Tensor runtime, nn, optim and the seed tutorials on 'cuda' with a watch for NumPy
# fall-backs), time W2, W3 and a large MLP against hand-written CuPy and PyTorch CUDA,
# and write a short report.
#
#   bench/gpu_check.sh [REPORT_DIR]        (default: $OUT, else ./gpu-report)
#
# Environment: PYTHON (default python3); SRCDIFF_WHEELS, a folder of wheels of srcdiff's
# dependencies for a machine without a package index (default .whl, used when present);
# TEST_TIMEOUT and BENCH_TIMEOUT in seconds (default 420 and 240); QUICK=1 for a quick
# timing run; TESTS_K, a pytest -k expression to run part of the suite ("cupy or gpu").
# Exit status: 0 when every test passed, 1 when one failed, 2 without a GPU, 3 when CuPy
# cannot be installed or sees no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
report=${1:-${OUT:-gpu-report}}
mkdir -p "$report"
python=${PYTHON:-python3}
log="$report/gpu_check.log"
say() { echo "gpu_check: $*" | tee -a "$log" >&2; }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    say "no NVIDIA GPU here (nvidia-smi finds none): this check needs a machine with one"
    exit 2
fi
nvidia-smi -L | tee -a "$log"
cuda_major=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9]*\)\..*/\1/p' | head -n 1)
say "the driver supports CUDA $cuda_major"

# --- install -------------------------------------------------------------------------
if ! "$python" -c "import cupy" >/dev/null 2>&1; then
    say "installing cupy-cuda${cuda_major}x"
    "$python" -m pip install -q "cupy-cuda${cuda_major}x" >>"$log" 2>&1 || {
        say "could not install cupy-cuda${cuda_major}x"; exit 3; }
fi
wheels=${SRCDIFF_WHEELS:-.whl}
site="${TMPDIR:-/tmp}/srcdiff-site"
if [ -d "$wheels" ]; then
    say "installing srcdiff's dependencies from $wheels (no index)"
    "$python" -m pip install -q --no-index --no-deps --no-compile --upgrade \
        --target "$site" "$wheels"/*.whl >>"$log" 2>&1 || { say "wheels failed"; exit 3; }
    export PYTHONPATH="$PWD:$site"
else
    say "installing srcdiff with its test extra"
    "$python" -m pip install -q -e '.[test]' >>"$log" 2>&1 || { say "install failed"; exit 3; }
fi
"$python" - <<'EOF' 2>&1 | tee -a "$log" || { say "CuPy sees no GPU"; exit 3; }
import cupy, numpy, srcdiff as sd
assert sd.cuda.is_available(), "sd.cuda.is_available() is False"
x = cupy.arange(4.0)
assert float((x * x).sum()) == 14.0
print(f"cupy {cupy.__version__} on {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}"
      f", numpy {numpy.__version__}, srcdiff from {sd.__file__}")
EOF

# --- tests ---------------------------------------------------------------------------
workers=()
if "$python" -c "import xdist" >/dev/null 2>&1; then
    workers=(-n "$(( $(nproc) < 8 ? $(nproc) : 8 ))")
fi
# One line per test, so that a run stopped by TEST_TIMEOUT still says what passed, and a
# per-test limit where pytest-timeout is there, so that one hung test cannot eat the rest.
if "$python" -c "import pytest_timeout" >/dev/null 2>&1; then
    workers+=(--timeout 90)
fi
say "running the test suite ${workers[*]}"
selection=()
[ -n "${TESTS_K:-}" ] && selection=(-k "$TESTS_K")
timeout "${TEST_TIMEOUT:-420}" "$python" -m pytest -p no:cacheprovider -v --tb=short -rfE "${workers[@]}" \
    "${selection[@]}" --junitxml "$report/junit.xml" tests >"$report/pytest.log" 2>&1
tests_status=$?
tail -n 25 "$report/pytest.log" | tee -a "$log"

# --- timings -------------------------------------------------------------------------
say "timing W2, W3 and W2-large"
timeout "${BENCH_TIMEOUT:-240}" "$python" bench/gpu.py ${QUICK:+--quick} \
    >"$report/timings.md" 2>>"$log"
bench_status=$?

# --- report --------------------------------------------------------------------------
"$python" - "$report" "$tests_status" "$bench_status" <<'EOF' | tee "$report/report.md"
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

report, tests_status, bench_status = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
counts = {"all": [0, 0, 0], "CuPy and cuda": [0, 0, 0]}  # passed, failed, skipped
failures = []
junit = report / "junit.xml"
if junit.exists():
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = 1 if case.find("failure") is not None or case.find("error") is not None \
            else 2 if case.find("skipped") is not None else 0
        groups = ["all"] + (["CuPy and cuda"] if "cupy" in name or ".gpu." in name else [])
        for g in groups:
            counts[g][outcome] += 1
        if outcome == 1:
            failures.append(name)
print("# srcdiff GPU check\n")
for group, (passed, failed, skipped) in counts.items():
    print(f"- tests, {group}: {passed} passed, {failed} failed, {skipped} skipped")
if tests_status not in (0, 1):
    print(f"- pytest ended with status {tests_status} (124: out of time)")
for name in failures[:40]:
    print(f"  - failed: {name}")
if bench_status:
    print(f"- timings ended with status {bench_status}; see gpu_check.log")
timings = report / "timings.md"
if timings.exists():
    print("\n" + timings.read_text())
EOF
[ "$tests_status" -eq 0 ]
