#!/bin/bash
# the device job: quantizer benchmark, FP8 training, emulated training, CUDA tests; results in /tmp/res
cd "$(dirname "$0")/.."
mkdir -p /tmp/res
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
timeout 300 python3 -m gpu_ref.bench --elements 268435456 --json /tmp/res/bench.json > /tmp/res/bench.log 2>&1
timeout 600 python3 benchmarks/bench_gpu_training.py --part fp8 --out /tmp/res/train_fp8.json > /tmp/res/train_fp8.log 2>&1
timeout 420 python3 benchmarks/bench_gpu_training.py --part emulated --out /tmp/res/train_emulated.json > /tmp/res/train_emulated.log 2>&1
timeout 240 python3 -m pytest -q -p no:cacheprovider -n 8 --timeout 240 -rf tests/test_kernels.py > /tmp/res/tests.log 2>&1
echo done > /tmp/res/DONE
