#!/usr/bin/env bash
# The sweep benchmark on a machine with a GPU, in one call.
#
# Runs `bench_sweep.py` with the differential engine and every hidden layer
# dense (`--capacity none,none,none`), so each chunk of masks is one vmapped
# program on the accelerator, against the per-mask JAX loop on the same
# accelerator and the PyTorch loop on the CPU. Matrix products run in full
# float32 (`JAX_DEFAULT_MATMUL_PRECISION=highest`), as on a CPU, so the fault
# semantics and the accuracies compare with the CPU engines.
#
# The machine needs Python with jax (with its GPU plugin), equinox, diffrax,
# optax, jaxtyping, xarray and numba. The package is read from this checkout
# through PYTHONPATH, so nothing is installed. Output goes to the terminal and
# to $OUT (default runs/device-sweep).
#
# Run from the repository root:
#   bash benchmarks/device_sweep.sh
#   PYTHON=.venv/bin/python BENCH_ARGS="--masks 64 --block 32 --samples 32" bash benchmarks/device_sweep.sh
set -euo pipefail

PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/device-sweep}
BENCH_ARGS=${BENCH_ARGS:---masks 2048 --block 256 --loop-masks 20}
CHUNK=${CHUNK:-32}
THREADS=${THREADS:-$(nproc)}

if [ ! -f benchmarks/bench_sweep.py ]; then
    echo "error: run this script from the repository root (benchmarks/bench_sweep.py not found in $PWD)" >&2
    exit 2
fi
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 JAX_DEFAULT_MATMUL_PRECISION=highest

{
    date -u
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$PYTHON" -c "import jax, equinox, diffrax; print('devices', jax.devices(), 'jax', jax.__version__, 'equinox', equinox.__version__, 'diffrax', diffrax.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

# shellcheck disable=SC2086  # BENCH_ARGS holds several options
"$PYTHON" benchmarks/bench_sweep.py --engine differential --capacity none,none,none --chunk-size "$CHUNK" \
    --torch-threads "$THREADS" $BENCH_ARGS 2>&1 | tee "$OUT/bench_sweep.txt"
