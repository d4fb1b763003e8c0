"""GPU timings: srcdiff on CuPy against the same hand-written gradients on CuPy and
against PyTorch CUDA, and a check that every result is CuPy's and right.

    python bench/gpu.py [--quick]

Workloads: W2 (784-256-256-10 MLP, 32 minibatches of 128), W3 (50-step RNN, 100
evaluations) and W2-large (1024-2048-2048-10 MLP, 8 minibatches of 4096), all float32.
The hand-written gradients are the CPU benchmarks' own functions with ``np`` bound to
CuPy, so both sides run the same kernels' worth of arithmetic. Each job ends with a
device synchronisation; jobs run interleaved, and the ratio is the median of per-round
ratios to hand-written CuPy. The report (Markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness.report import ratio, seconds, table  # noqa: E402
from bench.harness.timing import interleave, ratios  # noqa: E402
from bench.workloads import w2_mlp, w3_rnn  # noqa: E402
from bench.workloads.base import sgd_step, train, with_array_module  # noqa: E402


def host(result: Any) -> list[np.ndarray]:
    """The arrays of a nested result, on the host (CuPy, torch and NumPy alike)."""
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in host(item)]
    if hasattr(result, "detach"):
        return [result.detach().cpu().numpy()]
    if hasattr(result, "get"):
        return [result.get()]
    return [np.asarray(result)]


def on_device(result: Any, module: str) -> bool:
    """Whether every array of a nested result belongs to ``module`` (cupy or torch)."""
    if isinstance(result, (tuple, list)):
        return all(on_device(item, module) for item in result)
    if isinstance(result, (float, int, np.generic)):
        return True
    return type(result).__module__.split(".")[0] == module


def agree(got: Any, want: Any) -> str | None:
    a, b = host(got), host(want)
    if len(a) != len(b):
        return f"{len(a)} outputs, expected {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-3, atol=1e-4 * max(scale, 1)):
            return f"output {i} differs (max abs error {float(np.max(np.abs(x - y))):.3g})"
    return None


def synced(run: Callable[[], Any], sync: Callable[[], None]) -> Callable[[], Any]:
    def job() -> Any:
        result = run()
        sync()
        return result

    return job


# ---- the jobs -------------------------------------------------------------------------------


def mlp_jobs(problem: w2_mlp.Problem) -> dict[str, tuple[Callable[[], Any], str]]:
    """Minibatch SGD on the MLP: hand-written CuPy, srcdiff on CuPy, torch CUDA."""
    import cupy as cp

    import srcdiff as sd

    params = tuple(cp.asarray(w) for w in problem.params)
    batches = [(cp.asarray(x), cp.asarray(t)) for x, t, _ in problem.batches]
    by_hand = with_array_module(w2_mlp.numpy_value_and_grad, cp)
    sync = cp.cuda.Device().synchronize
    jobs = {
        "cupy (hand-written)": (
            synced(lambda: train(sgd_step(by_hand, w2_mlp.LR), params, batches), sync),
            "cupy",
        ),
        "srcdiff value_and_grad": (
            synced(
                lambda: train(
                    sgd_step(sd.value_and_grad(w2_mlp.loss, wrt=w2_mlp.WRT), w2_mlp.LR),
                    params,
                    batches,
                ),
                sync,
            ),
            "cupy",
        ),
    }
    torch = _torch()
    if torch is not None:
        tparams = tuple(torch.tensor(w, device="cuda", requires_grad=True) for w in problem.params)
        tbatches = [
            (torch.tensor(x, device="cuda"), torch.tensor(t, device="cuda"))
            for x, t, _ in problem.batches
        ]
        tloss = with_array_module(w2_mlp.loss, _TorchNumpy(torch))

        def torch_value_and_grad(*args):
            value = tloss(*args)
            return value.detach(), torch.autograd.grad(value, args[: len(w2_mlp.WRT)])

        def torch_train():
            ps = tuple(p.detach().requires_grad_() for p in tparams)
            for x, t in tbatches:
                value, grads = torch_value_and_grad(*ps, x, t)
                ps = tuple(
                    (p - w2_mlp.LR * g).detach().requires_grad_()
                    for p, g in zip(ps, grads, strict=True)
                )
            return tuple(p.detach() for p in ps), value

        jobs["torch CUDA (autograd.grad)"] = (synced(torch_train, torch.cuda.synchronize), "torch")
    return jobs


def rnn_jobs(problem: w3_rnn.Problem) -> dict[str, tuple[Callable[[], Any], str]]:
    import cupy as cp

    import srcdiff as sd

    args = tuple(cp.asarray(a) for a in problem.args)
    by_hand = with_array_module(w3_rnn.numpy_value_and_grad, cp)
    srcdiff_vg = sd.value_and_grad(w3_rnn.loss, wrt=w3_rnn.WRT)
    sync = cp.cuda.Device().synchronize

    def repeat(vg: Callable, a: tuple) -> Callable[[], Any]:
        def run():
            result = None
            for _ in range(problem.evaluations):
                result = vg(*a)
            return result

        return run

    jobs = {
        "cupy (hand-written)": (synced(repeat(by_hand, args), sync), "cupy"),
        "srcdiff value_and_grad": (synced(repeat(srcdiff_vg, args), sync), "cupy"),
    }
    torch = _torch()
    if torch is not None:
        W, U, b = (
            torch.tensor(a, device="cuda", requires_grad=True)
            for a in (problem.W, problem.U, problem.b)
        )
        xs, h0 = (torch.tensor(a, device="cuda") for a in (problem.xs, problem.h0))

        def torch_vg():
            h = h0
            for t in range(xs.shape[0]):
                h = torch.tanh(h @ W.T + xs[t] @ U.T + b)
            value = torch.sum(h**2)
            return value.detach(), torch.autograd.grad(value, (W, U, b))

        jobs["torch CUDA (autograd.grad)"] = (
            synced(repeat(torch_vg, ()), torch.cuda.synchronize),
            "torch",
        )
    return jobs


class _TorchNumpy:
    """The few NumPy names the MLP loss uses, as torch functions."""

    def __init__(self, torch: Any):
        self.tanh, self.exp, self.log = torch.tanh, torch.exp, torch.log
        self._torch = torch

    def max(self, x, axis, keepdims):
        return self._torch.amax(x, dim=axis, keepdim=keepdims)

    def sum(self, x, axis=None, keepdims=False):
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# ---- the report -----------------------------------------------------------------------------


def measure(
    name: str, jobs: dict[str, tuple[Callable[[], Any], str]], rounds: int
) -> list[list[str]]:
    reference_name = next(iter(jobs))
    reference = jobs[reference_name][0]()
    runs, rows = {}, []
    for impl, (job, module) in jobs.items():
        try:
            result = job()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            rows.append([name, impl, f"failed: {type(exc).__name__}: {exc}"[:150], "", ""])
            continue
        problem = agree(result, reference) or (
            None if on_device(result, module) else f"results are not {module} arrays"
        )
        if problem:
            rows.append([name, impl, f"wrong: {problem}", "", ""])
        else:
            runs[impl] = job
    print(f"{name}: timing {len(runs)} implementations", file=sys.stderr, flush=True)
    timings = interleave(runs, rounds, warmup=1)
    base = timings[reference_name]
    for impl, timing in timings.items():
        if timing.error:
            rows.append([name, impl, f"failed: {timing.error}", "", ""])
        else:
            rows.append(
                [
                    name,
                    impl,
                    seconds(timing.median),
                    seconds(timing.minimum),
                    ratio(statistics.median(ratios(timing, base))),
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and batches")
    args = parser.parse_args(argv)
    import cupy as cp

    rounds = 3 if args.quick else 7
    large = w2_mlp.make_problem(n_batches=2 if args.quick else 8, batch_size=4096)
    large = _resized(large, (1024, 2048, 2048, 10))
    rows = []
    rows += measure("W2", mlp_jobs(w2_mlp.make_problem(args.quick)), rounds)
    rows += measure("W3", rnn_jobs(w3_rnn.make_problem(args.quick)), rounds)
    rows += measure("W2-large", mlp_jobs(large), rounds)
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(f"# srcdiff on the GPU ({'quick' if args.quick else 'full'} run)\n")
    print(
        f"- GPU: {props['name'].decode()}; CuPy {cp.__version__}; CUDA runtime "
        f"{cp.cuda.runtime.runtimeGetVersion()}"
    )
    print(f"- W2-large: {large.label}, sizes 1024-2048-2048-10")
    print(
        f"- {rounds} timed rounds after one warm-up, interleaved; every job ends with a "
        "device synchronisation; ratio: median of per-round ratios to hand-written CuPy\n"
    )
    print(table(["Workload", "Implementation", "Median", "Min", "vs hand-written CuPy"], rows))


def _resized(problem: w2_mlp.Problem, sizes: tuple[int, ...]) -> w2_mlp.Problem:
    """``problem``'s batches and initial parameters for an MLP of ``sizes``."""
    rng = np.random.default_rng(0)
    batches = []
    for _, t, labels in problem.batches:
        x = rng.standard_normal((len(t), sizes[0]), dtype=np.float32)
        batches.append((x, t, labels))
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return w2_mlp.Problem(batches, tuple(params))


if __name__ == "__main__":
    main()
