"""edgeapp: choose, run and measure the right GGUF quantization for this machine."""

__version__ = "0.1.0"
