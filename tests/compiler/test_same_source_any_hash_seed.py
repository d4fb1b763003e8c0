"""The generated source of a function is the same text whatever Python's hash seed: no
name is taken in the order a set of strings happens to iterate in (third-order adjoints
of a loop once took ``d_d_t2_1`` or ``d_d_t2_2`` by the seed)."""

import os
import re
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import numpy as np
    import srcdiff as sd

    def looping(x):
        s = x
        for k in range(3):
            s = s * np.tanh(x) + np.sin(s) / (k + 1.0)
        n = 0
        while n < 2:
            s = s + x * s
            n += 1
        return s

    sd.grad(sd.grad(sd.grad(looping)))(0.3)
    """
)


def _every_stage(seed: str, tmp_path) -> str:
    """What ``SRCDIFF_DEBUG=1`` prints of every stage of every function compiled, with
    the addresses of objects left out."""
    script = tmp_path / "looping.py"
    script.write_text(PROGRAM)
    env = dict(os.environ, PYTHONHASHSEED=seed, SRCDIFF_DEBUG="1")
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return re.sub(r"\b(0x)?[0-9a-f]{12}\b", "<address>", run.stderr)


def test_the_sources_of_a_third_derivative_do_not_depend_on_the_hash_seed(tmp_path):
    first = _every_stage("1", tmp_path)
    assert "after differentiate" in first
    assert _every_stage("2", tmp_path) == first


def test_a_source_srcdiff_wrote_is_named_without_what_keeps_it_apart():
    from srcdiff.compiler.parse import shown_file

    assert shown_file("<srcdiff: f_called 7f464e830950>") == "<srcdiff: f_called>"
    assert shown_file("<srcdiff: recorded operations #12>") == "<srcdiff: recorded operations>"
    made = "<srcdiff: forward mode of f (a.py:3), 7f46>"
    assert shown_file(made) == "<srcdiff: forward mode of f (a.py:3)>"
