"""The examples run as scripts (subprocesses) and print what they promise."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from steps import shown_line
from tutorial import linear_regression_data

import srcdiff as sd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name, *args, cwd=None):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def least_squares(x, y):
    """The intercept and slope of the closed-form least-squares fit."""
    design = np.hstack([np.ones_like(x), x])
    (a, b), *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    return a, b


def test_linear_regression_fits_match_least_squares():
    out = run("linear_regression.py")
    fits = re.findall(r"^(.+?):\s+a = (-?\d+\.\d+)\s+b = (-?\d+\.\d+)$", out, re.M)
    labels = [label for label, _, _ in fits]
    assert labels == [
        "numpy, gradients by hand",
        "autograd, updates under no_grad",
        "optim.SGD and nn.MSELoss",
        "ManualLinearRegression(nn.Module)",
        "nn.Linear inside a Module",
        "nn.Sequential, make_train_step",
        "minibatches of 16, random_split",
    ]
    x, y, train = linear_regression_data()
    a, b = least_squares(x[train], y[train])
    assert round(a, 4) == 1.0235 and round(b, 4) == 1.9690
    for label, got_a, got_b in fits[:-1]:
        assert abs(float(got_a) - a) < 1e-3 and abs(float(got_b) - b) < 1e-3, label
    a_all, b_all = least_squares(x, y)  # the minibatch run trains on another split of 80
    assert abs(float(fits[-1][1]) - a_all) < 0.05 and abs(float(fits[-1][2]) - b_all) < 0.05
    cuda = sd.cuda.is_available()  # the tutorial runs on the GPU where there is one
    assert ("srcdiff.cuda.FloatTensor" if cuda else "srcdiff.FloatTensor") in out
    on = ", device='cuda:0'" if cuda else ""
    assert (
        f"OrderedDict([('a', tensor([1.0235]{on})), ('b', tensor([1.9690]{on}))])" in out
        or f"OrderedDict({{'a': tensor([1.0235]{on}), 'b': tensor([1.9690]{on})}})" in out
    )  # Python 3.12 on
    assert "def backward(_saved, d_result):" in out  # the eager loss.backward()
    assert "def train_step_primal(" in out  # the compiled training step
    # the model's forward and the loss, inlined with their own files' lines
    assert "linear_regression.py:97: return self.a + self.b * x" in out
    assert shown_line(sd.nn.functional, "squared = (input - target) ** 2") in out


def test_dynamic_graph_shows_both_paths():
    out = run("dynamic_graph.py")
    assert out.count("digraph {") == 2
    assert "# path: 1" in out and "# path: 0" in out
    assert "if branch taken" in out and "if branch not taken" in out
    assert "fillcolor=darkolivegreen1" in out and 'label="w\\n(1)"' in out
    tensors = re.findall(r"tensors:\s+b.grad = (\S+)\s+w.grad = (\S+)", out)
    compiled = re.findall(r"compiled: d/db\s+= (\S+)\s+d/dw\s+= (\S+)", out)
    assert len(tensors) == 2 and tensors == compiled
    assert tensors[0][1] != tensors[1][1]  # the branch adds to the gradient of w only


@pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="scikit-learn is not installed (pip install -e '.[examples]')",
)
def test_digits_mlp_reaches_95_percent(tmp_path):
    plot = tmp_path / "figures" / "digits_loss.png"
    out = run("digits_mlp.py", "--out", str(plot.parent), cwd=tmp_path)
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    assert accuracy >= 0.95
    assert re.search(r"^epoch 20/20 loss \d\.\d{4}$", out, re.M)
    assert "\r" not in out  # not a terminal: no progress bar redrawn in the log
    assert "def train_step_primal(" in out
    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.stat().st_size > 0
