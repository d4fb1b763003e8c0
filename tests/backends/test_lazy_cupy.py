"""CuPy is an optional extra (``pip install -e '.[cuda]'``) imported only when needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

import srcdiff as sd


def test_import_srcdiff_never_imports_cupy():
    code = "import srcdiff, sys; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_gradients_and_tensors_on_the_cpu_never_import_cupy(tmp_path):
    script = tmp_path / "cpu_only.py"
    script.write_text(
        "import sys\n"
        "import numpy as np\n"
        "import srcdiff as sd\n\n\n"
        "def f(x):\n"
        "    return np.sum(np.tanh(x) ** 2)\n\n\n"
        "sd.grad(f)(np.ones(3))\n"
        "t = sd.ones(3, requires_grad=True, device='cpu')\n"
        "(t * 2).sum().backward()\n"
        "assert 'cupy' not in sys.modules, 'CuPy was imported'\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)


@pytest.mark.skipif(sd.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_is_a_clear_error():
    assert sd.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        sd.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        sd.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        sd.ones(2).cuda()
