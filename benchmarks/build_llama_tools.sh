#!/usr/bin/env bash
# Build llama-bench and llama-perplexity from the llama.cpp that the installed llama-cpp-python
# vendors, so edgeapp is measured against the very same kernels it runs.
#
# Usage: benchmarks/build_llama_tools.sh            (prints the bin directory on its last line)
# Environment:
#   PYTHON              the interpreter whose llama-cpp-python to match (default: .venv/bin/python
#                       if it exists, else python3)
#   EDGEAPP_BENCH_CACHE where sources and builds are kept (default: ~/.cache/edgeapp-bench)
#   LLAMA_CPP_SDIST     a local llama_cpp_python-<ver>.tar.gz to use instead of `pip download`
#   JOBS                parallel compile jobs (default: 2)
#   CMAKE_EXTRA_ARGS    extra cmake arguments, e.g. "-DGGML_CUDA=ON" to match a CUDA wheel
#
# Nothing is committed: the sdist is downloaded with pip and the build lives in the cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi
version="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
cache="${EDGEAPP_BENCH_CACHE:-$HOME/.cache/edgeapp-bench}"
jobs="${JOBS:-2}"
root="$cache/llama.cpp-$version"
bin="$root/build/bin"

if [[ -x "$bin/llama-bench" && -x "$bin/llama-perplexity" ]]; then
    echo "llama-bench and llama-perplexity for llama-cpp-python $version are already built" >&2
    echo "$bin"
    exit 0
fi

mkdir -p "$cache/sdist"
sdist="${LLAMA_CPP_SDIST:-}"
if [[ -z "$sdist" ]]; then
    sdist="$(ls "$cache"/sdist/llama_cpp_python-"$version".tar.gz 2>/dev/null || true)"
fi
if [[ -z "$sdist" ]]; then
    echo "downloading the llama-cpp-python $version source distribution" >&2
    # pip prepares the sdist's metadata in an isolated environment (scikit-build-core), no compile.
    "$PYTHON" -m pip download --quiet --no-binary :all: --no-deps \
        "llama-cpp-python==$version" -d "$cache/sdist" >&2
    sdist="$cache/sdist/llama_cpp_python-$version.tar.gz"
fi
[[ -f "$sdist" ]] || { echo "no source distribution at $sdist" >&2; exit 1; }

# Extract only the vendored llama.cpp, into a fresh directory renamed into place when complete,
# so an interrupted extraction is never mistaken for a finished one.
if [[ ! -f "$root/src/CMakeLists.txt" ]]; then
    tmp="$(mktemp -d "$cache/extract.XXXXXX")"
    tar -xzf "$sdist" -C "$tmp" "llama_cpp_python-$version/vendor/llama.cpp"
    mkdir -p "$root"
    rm -rf "$root/src"
    mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$root/src"
    rm -rf "$tmp"
fi

# Release, CPU, default (native) flags: what `pip install llama-cpp-python` compiles.
# shellcheck disable=SC2086
cmake -S "$root/src" -B "$root/build" -G "Unix Makefiles" \
    -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    ${CMAKE_EXTRA_ARGS:-} >&2
cmake --build "$root/build" --config Release -j "$jobs" --target llama-bench llama-perplexity >&2

[[ -x "$bin/llama-bench" && -x "$bin/llama-perplexity" ]] || { echo "build finished without the tools in $bin" >&2; exit 1; }
echo "$bin"
