#!/usr/bin/env bash
# scripts/device/python.sh WHEEL [TEST_LIMIT_S] [BENCH_LIMIT_S]
#
# The Python package (issue 17) on the GPU, from a wheel built elsewhere: the
# GPU machine has no network, so build it where there is one and carry it
# over with the release CLI of the same commit, and pytest's wheels if the
# machine lacks pytest:
#
#   cargo build --release && maturin build --release -m python/Cargo.toml
#   python3 -m pip download --only-binary=:all: --dest target/wheels pytest
#   # carry target/wheels (WHEEL) and target/release/tileattn
#
# The wheel (tagged cp39-abi3-linux_x86_64) needs the GPU machine's glibc to
# be as new as the one it was built against: a wheel built on Debian 12
# needed GLIBC_2.34 (`objdump -T _tileattn.abi3.so | grep GLIBC_`).
#
# WHEEL, a .whl or a directory of them, is installed without dependencies
# (torch, numpy and triton are the machine's) into a temporary directory,
# which goes first on PYTHONPATH. Then:
#
# 1. pytest python/tests (TEST_LIMIT_S, default 400): test_cuda.py compares
#    tileattn.attention with SDPA's math on MHA, GQA, MQA, causal, ragged and
#    BHSD-strided inputs, torch.compile(fullgraph=True) of a small attention
#    module with eager (default and reduce-overhead modes), and a CUDA-graph
#    capture against eager replays; the emulator and CPU tests run too.
# 2. scripts/python_overhead.py (BENCH_LIMIT_S, default 150): the call's
#    overhead over `tileattn time` of the same variant at B=32 H=8 S=512 D=64
#    fp16 (target ≤ 10 µs).
#
# Results under $R (packed into $OUT/results.tgz), for results/<gpu>/python/:
# env.txt, pytest.txt, junit.xml, overhead.json, overhead.md. Exit status:
# pytest's, or the overhead script's if pytest passed.
. scripts/device/lib.sh
wheel=${1:?usage: scripts/device/python.sh WHEEL [TEST_LIMIT_S] [BENCH_LIMIT_S]}
test_limit=${2:-400}
bench_limit=${3:-150}
if [ -d "$wheel" ]; then
  wheels=("$wheel"/*.whl)
else
  wheels=("$wheel")
fi
site=$(mktemp -d)
python3 -m pip install --quiet --no-deps --no-index --target "$site" "${wheels[@]}" || exit 2
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"

{
  echo "wheels: ${wheels[*]##*/}"
  echo "cli: $($B --version)"
  python3 -c 'import tileattn, torch, triton; print("package:", tileattn.COMMIT, tileattn.__file__); print("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name())'
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv
} > "$R/env.txt" 2>&1
cat "$R/env.txt"
pack

timeout "$test_limit" python3 -m pytest python/tests -rA --junitxml="$R/junit.xml" > "$R/pytest.txt" 2>&1
status=$?
tail -n 30 "$R/pytest.txt"
pack

timeout "$bench_limit" python3 scripts/python_overhead.py "$B" "$R" 32,8,512,64 f16 > "$R/overhead.log" 2>&1
bench=$?
cat "$R/overhead.log"
pack
[ "$status" -ne 0 ] && exit "$status"
exit "$bench"
