"""The inference engine: llama.cpp in a child process, driven through `client.EngineClient`.

Only `worker.py` and the modules it imports (`session`, `generate`, `jobs`, `scoring`) import
llama_cpp, and they run in the child. The parent imports `client`, `protocol` and `monitor`.
"""
