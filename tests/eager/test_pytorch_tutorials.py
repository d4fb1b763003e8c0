"""The three tutorials of ``shared/seeds`` run with srcdiff in place of torch, against the
values PyTorch printed running the very same code (``pytorch/programs.py``, recorded by
``pytorch/record.py`` with PyTorch 2.14 on the CPU; PyTorch is not a test dependency).

"Understanding PyTorch with an example" (autograd by hand, ``optim.SGD``, ``nn.MSELoss``,
its ``nn.Module``, nested and ``nn.Sequential`` models, ``make_train_step``, minibatches
of a ``random_split`` through a ``DataLoader``), "PyTorch 101 for Dummies like Me" and
"Automatic Differentiation in PyTorch": initial parameters after ``manual_seed(42)``,
gradients, losses and final parameters.

Everything is compared bit for bit, except values that come out of a float32 sum of many
numbers (``TOLERANCES``): srcdiff sums in NumPy's pairwise order and PyTorch in its own
vectorized order, so a loss (a mean of 80, 16 or 20 squares) or a gradient (the sum over
the 80 points that ``b * x`` broadcast over) can differ in its last bits. The parameters
those gradients drive still end where PyTorch's end, bit for bit (SGD's update is fused
as PyTorch's), except in the loop that never zeroes its gradients.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from .pytorch import programs

VALUES = json.loads((Path(__file__).parent / "pytorch" / "values.json").read_text())

# float32 ulps are 6e-8 relative: a sum of 80 terms taken in another order is within
# about log2(80) ulps of each, so 2e-6 relative leaves room and is still tight.
REDUCED = {"rtol": 2e-6, "atol": 0.0}
TOLERANCES = {
    "understanding/nested/losses": REDUCED,
    "understanding/sequential/losses": REDUCED,
    "understanding/minibatch/losses": REDUCED,
    "understanding/minibatch/val_losses": REDUCED,
    "autograd/grad": REDUCED,
    "autograd/nonsense/grad": REDUCED,
    # Gradients from 3.1 down to 5e-7 as a and b converge: absolute, 1e-6 being about
    # eight ulps of the largest (the sums differ by at most 3e-7).
    "understanding/autograd/grads": {"rtol": 0.0, "atol": 1e-6},
    # The "Model" section's loop never zeroes the gradients, which add up epoch after
    # epoch: SGD on them is an undamped oscillation, so the sums' last-bit differences
    # accumulate over the 1000 epochs instead of dying out (2.2e-6 at the end).
    "understanding/model/final": {"rtol": 0.0, "atol": 1e-5},
}


@pytest.mark.parametrize("program", programs.TUTORIALS, ids=lambda p: p.__name__)
def test_the_tutorials_print_what_pytorch_prints(program):
    got = program(sd)
    assert got, program.__name__
    for key, values in got.items():
        want = VALUES[key]
        if key in TOLERANCES:
            np.testing.assert_allclose(values, want, err_msg=key, **TOLERANCES[key])
            assert values != want, f"{key} is now exact: compare it exactly"
        else:
            assert values == want, key
