"""Driving an optimizer with gradients chosen by hand, one step each."""

import numpy as np

from srcdiff.creation import tensor


def run_steps(make_optimizer, start, grads, dtype=np.float64):
    """The parameter values after each step, feeding ``grads[k]`` as the gradient of step k."""
    p = tensor(np.array(start, dtype=dtype), requires_grad=True)
    optimizer = make_optimizer([p])
    values = []
    for g in grads:
        p.grad = tensor(np.array(g, dtype=dtype))
        optimizer.step()
        values.append(p.detach().numpy().copy())
    return values, p, optimizer
