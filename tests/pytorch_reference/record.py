"""Record PyTorch's values of the programs in ``programs.py`` (optimizers, schedulers,
losses), for the tests beside this file. Run once where PyTorch 2.13 and NumPy are
installed (PyTorch is not a test dependency):

    python tests/pytorch_reference/record.py tests/pytorch_reference/values.json

Every entry is a list of numbers (float32 values as their float64 decimals, exactly).
"""

from __future__ import annotations

import json
import sys

import programs  # beside this file
import torch


def record() -> dict:
    out: dict = {"torch": torch.__version__}
    out.update(programs.optimizers(torch))
    out.update(programs.long_nadam(torch))
    out.update(programs.schedulers(torch))
    out.update(programs.losses(torch))
    out.update(programs.target_losses(torch))
    out.update(programs.samplers(torch))
    out.update(programs.lbfgs(torch))
    out.update(programs.averaging(torch))
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump(record(), f)
        f.write("\n")
