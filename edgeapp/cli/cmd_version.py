"""`edgeapp --version`: edgeapp's version, llama.cpp's build and its compiled-in backends."""

from __future__ import annotations

import argparse

from edgeapp.cli import output


def run(args: argparse.Namespace) -> int:
    """Print versions (or JSON with --json) and return 0; works without llama.cpp installed."""
    from edgeapp import __version__
    from edgeapp.backend_info import backend_info

    info = backend_info()
    if getattr(args, "json", False):
        output.emit_json(
            {
                "edgeapp": __version__,
                "llama_cpp_python": info.llama_cpp_python_version,
                "llama_cpp_build": info.build,
                "backends": list(info.backends),
                "gpu_offload_supported": info.gpu_offload_supported,
                "llama_cpp": info.to_json(),
            }
        )
        return 0
    print(f"edgeapp {__version__}")
    if not info.importable:
        print(f"llama.cpp: not available: {info.reason}")
        return 0
    print(f"llama-cpp-python {info.llama_cpp_python_version} · {info.build}")
    print(f"backends: {', '.join(info.backends) or 'none'}", end="")
    extra = sorted(set(info.backend_libraries) - {b.lower() for b in info.backends})
    print(f" (libraries present but not registered: {', '.join(extra)})" if extra else "")
    print(f"GPU offload: {'yes' if info.gpu_offload_supported else 'no'}")
    return 0
