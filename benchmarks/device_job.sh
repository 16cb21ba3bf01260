#!/bin/bash
# the device job: quantizer benchmark, CUDA tests, emulated training, FP8 training; results in /tmp/res
# (parts: any of bench tune tests emulated fp8, default all)
cd "$(dirname "$0")/.."
mkdir -p /tmp/res
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
parts=${*:-bench tune tests emulated fp8}
for part in $parts; do
    case $part in
        bench) timeout 300 python3 -m gpu_ref.bench --elements 268435456 --json /tmp/res/bench.json > /tmp/res/bench.log 2>&1 ;;
        tune) timeout 300 python3 benchmarks/tune_block_tiles.py --json /tmp/res/tune_block_tiles.json > /tmp/res/tune.log 2>&1 ;;
        tests)  # the CPU references of the kernel tests in 12 workers; the training tests' CPU runs in 4 (more oversubscribe)
            timeout 900 python3 -m pytest -q -p no:cacheprovider -n 12 --timeout 900 -rf --durations=15 tests/test_kernels.py > /tmp/res/tests.log 2>&1
            OMP_NUM_THREADS=4 timeout 900 python3 -m pytest -q -p no:cacheprovider -n 4 --timeout 900 -rf --durations=10 tests/test_lns.py tests/test_train.py > /tmp/res/tests_lns_train.log 2>&1 ;;
        emulated) timeout 600 python3 benchmarks/bench_gpu_training.py --part emulated --out /tmp/res/train_emulated.json > /tmp/res/train_emulated.log 2>&1 ;;
        fp8) timeout 900 python3 benchmarks/bench_gpu_training.py --part fp8 --out /tmp/res/train_fp8.json > /tmp/res/train_fp8.log 2>&1 ;;
    esac
    echo "$part $(date +%T)" >> /tmp/res/PARTS
done
echo done > /tmp/res/DONE
