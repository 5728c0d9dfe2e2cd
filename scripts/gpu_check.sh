#!/usr/bin/env bash
# The CUDA checks in one call, for a GPU machine (e.g. the project's lent device):
#   bash scripts/gpu_check.sh [OUT_FOLDER]
# 1. the CUDA tests (tests/test_cuda.py: training, replicas, the direct update, the compiled
#    step, trainer.compile=native refused on the device with its one line (the native program
#    is the CPU's; CUDA graphs would be the device's), a GPU checkpoint predicted on the CPU),
#    2. the CUDA bench (python -m nnkit.bench.gpu: the circle at batch 32 and 1024, replicas
#    at 1, 20, 200 and 2000, trainer.compile off and on). Uses the machine's own torch with
#    CUDA; installs nnkit without touching it. Results and logs go to OUT_FOLDER (default:
#    $OUT, else ./gpu-check).
set -uo pipefail
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
python=${PYTHON:-python3}
if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to $python's torch" | tee "$out/summary.txt"
    exit 1
fi
"$python" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" \
    | tee "$out/summary.txt"
if [ ! -d .venv-gpu ]; then
    "$python" -m venv --system-site-packages .venv-gpu
    .venv-gpu/bin/pip install -q --no-build-isolation -e ".[dev]" 2>&1 | tail -3
fi
py=.venv-gpu/bin/python
status=0
timeout 300 "$py" -m pytest -p no:cacheprovider -n 0 tests/test_cuda.py -q \
    2>&1 | tee "$out/tests.txt" | tail -15 || status=1
timeout 400 "$py" -m nnkit.bench.gpu --scale "${GPU_BENCH_SCALE:-1}" --out "$out/bench-gpu.json" \
    2>&1 | tee "$out/bench.txt" | tail -20 || status=1
echo "gpu_check: exit $status" | tee -a "$out/summary.txt"
exit $status
