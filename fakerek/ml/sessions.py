"""onnxruntime sessions as fakerek runs them: few threads, sleeping rather than spinning."""

from __future__ import annotations

import onnxruntime as ort

# Intra-op threads of a session. Training runs sessions of one thread on as many worker threads
# as it has cores (images are independent: no synchronisation inside a run).
TRAINING_THREADS = 2


def session(model: bytes, threads: int, arena: bool = True) -> ort.InferenceSession:
    """`arena=False` for graphs whose shapes vary from run to run: onnxruntime's memory arena
    would otherwise keep the largest allocation of every shape it has seen. Idle intra-op threads
    sleep instead of spinning, so that a busy neighbour process costs a core, not more."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    options.log_severity_level = 3  # errors only: not the optimiser's notes on unused constants
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
