#!/usr/bin/env bash
# Where the GPU decode gap against llama-bench comes from, and the check after the fix
# (docs/benchmarks.md, "GPU decode"): llama-bench and benchmarks/gpu_decode_probe.py on the same
# file, then vs_llama_cpp.py's ratios and the VRAM estimate against NVML, full and partial offload.
#   bash benchmarks/gpu_probe.sh
set -u
source "$(dirname "$0")/gpu_env.sh"
quiet() { grep -v "^llama_\|^load\|^print_info\|^\.\|^sched\|^set_sampler\|^graph_\|^~llama\|^common_\|^ggml_cuda_init\|^  Device\|^create_tensor\|^resolve_fused\|^init_tokenizer\|^done_getting\|^set_abort\|^CUDA Graph"; }
step() { echo; echo "\$ $*"; "$@" 2>&1 | quiet; }
{
  Q8=$(python3 -c "from edgeapp.bundled import ensure_derived; print(ensure_derived('Q8_0'))")
  step "$BIN/llama-bench" -m "$Q8" -ngl 99 -p 0 -n 128 -r 5 -t 16
  step python3 benchmarks/gpu_decode_probe.py "$Q8" --ctx 2048 --tokens 256 --reps 5
  step python3 benchmarks/vs_llama_cpp.py --bin "$BIN" --gpu-layers 99 --quants Q2_K,Q4_K_M,Q8_0,F16 --reps 5 --md "$OUT/vs_llama_cpp_gpu.md"
  step python3 benchmarks/memory_estimate.py --quants Q2_K,Q8_0 --ctx 512,2048,8192 --gpu-layers all
  step python3 benchmarks/memory_estimate.py --quants Q2_K,Q8_0 --ctx 2048 --gpu-layers 15
} 2>&1 | tee "$OUT/gpu_probe.log"
