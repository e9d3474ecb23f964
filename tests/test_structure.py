"""The shape of the code that import-linter (`.importlinter`, run by `.ci/run`) cannot state:
the ML stack (numpy, onnxruntime, Pillow) is imported only when a model is first trained or
loaded, not when the server starts."""

from __future__ import annotations

import subprocess
import sys


def test_the_server_starts_without_the_ml_stack():
    probe = (
        "import sys, fakerek.app, fakerek.app.server; "
        "print(sorted(m for m in ('numpy', 'onnx', 'onnxruntime', 'PIL') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
