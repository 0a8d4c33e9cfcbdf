"""Concurrent first calls of llama.cpp models load one at a time: llama.cpp's loader swaps the
process's stdout and stderr, and two overlapping loads leave stderr on /dev/null (the benchmark
runner's samples make such first calls concurrently)."""

from __future__ import annotations

import threading
import time

import aurelia.models.llamacpp as llamacpp


def test_first_calls_from_several_threads_load_one_at_a_time(monkeypatch):
    active, most = [0], [0]
    lock = threading.Lock()

    def slow_load(path: str, n_ctx: int) -> object:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return object()

    monkeypatch.setattr(llamacpp, "load_llama", slow_load)
    models = [llamacpp.ChatLlamaCpp(model_path=f"/models/m{i % 2}.gguf") for i in range(6)]
    threads = [threading.Thread(target=m._client) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and all(m._llama is not None for m in models)
