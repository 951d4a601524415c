#!/usr/bin/env bash
# The GPU verification run (issues 6 and 8), on a machine prepared with ../shared/gpu/build.sh and
# the bundled model copied to /root/models/smollm2-135m-q4_1.gguf (see docs/benchmarks.md).
# Two parts, each well under the device's 10-minute limit per command; everything a part prints
# goes to $OUT/gpu_session_<part>.log, JSON and screen captures beside it.
#   bash benchmarks/gpu_session.sh 1   # versions, hw, pick, estimate vs NVML, bench vs llama-bench
#   bash benchmarks/gpu_session.sh 2   # vs_llama_cpp ratios, TUI overhead, TUI compare under tmux, startup
set -u
source "$(dirname "$0")/gpu_env.sh"
# tmux from Debian packages carried in .gpu/tmux (the image has none)
if [ -d .gpu/tmux ]; then
  for deb in .gpu/tmux/*.deb; do dpkg -x "$deb" /root/tmuxroot; done
  export LD_LIBRARY_PATH=/root/tmuxroot/usr/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH
fi
step() { echo; echo "=== $*"; echo "\$ $*"; "$@"; echo "(exit $?)"; }
PART=${1:-1}
{
  for q in Q2_K Q4_K_M Q8_0 F16; do python3 -c "from edgeapp.bundled import ensure_derived; print(ensure_derived('$q'))"; done
  Q2=$(python3 -c "from edgeapp.bundled import derived_path; print(derived_path('Q2_K'))")
  Q8=$(python3 -c "from edgeapp.bundled import derived_path; print(derived_path('Q8_0'))")
  if [ "$PART" = 1 ]; then
  step nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
  step python3 -m edgeapp --version
  step python3 -m edgeapp hw
  python3 -m edgeapp hw --json > "$OUT/hw.json"
  step python3 -m edgeapp pick default
  python3 -m edgeapp pick default --json > "$OUT/pick.json"
  step python3 -m edgeapp estimate default:Q8_0 --gpu-layers all
  step python3 -m edgeapp estimate default:Q8_0 --gpu-layers 15
  step python3 benchmarks/memory_estimate.py --quants Q2_K,Q8_0 --ctx 512,2048,8192 --gpu-layers all
  step python3 benchmarks/memory_estimate.py --quants Q2_K,Q8_0 --ctx 2048 --gpu-layers 15
  step cat /root/edgeapp/cache/measurements/memory_calibration.json
  step "$BIN/llama-bench" -m "$Q2" -m "$Q8" -ngl 99 -p 0 -n 128 -r 5
  step python3 -m edgeapp bench default:Q2_K default:Q8_0 --gpu-layers all --n-predict 128 --reps 5
  python3 -m edgeapp bench default:Q2_K default:Q8_0 --gpu-layers all --reps 3 --json > "$OUT/bench_gpu.json"
  step "$BIN/llama-bench" -m "$Q2" -m "$Q8" -ngl 0 -p 0 -n 128 -r 3
  step python3 -m edgeapp bench default:Q2_K default:Q8_0 --gpu-layers 0 --n-predict 128 --reps 3
  else
    step python3 benchmarks/vs_llama_cpp.py --bin "$BIN" --gpu-layers 99 --quants Q2_K,Q4_K_M,Q8_0,F16 --reps 5 --md "$OUT/vs_llama_cpp_gpu.md"
    step python3 benchmarks/tui_overhead.py --reps 4 --mode both
    step python3 benchmarks/tui_compare_tmux.py --out "$OUT" --tmux /root/tmuxroot/usr/bin/tmux --max-tokens 512 --quality
    step python3 benchmarks/startup.py --runs 9
    step python3 benchmarks/tui_first_frame.py
  fi
} 2>&1 | tee "$OUT/gpu_session_$PART.log"
