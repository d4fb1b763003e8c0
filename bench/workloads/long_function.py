"""A 50-line function with two loops and branches, to time a first compile.

A damped two-body integrator with a contact branch, then a regularised fit of its
trajectory with an early-stopping branch: the kind of function a user differentiates
as a whole.
"""

from __future__ import annotations

import numpy as np

STEPS = 20
DT = 0.05


def objective(params, x0, target):
    stiffness = params[0]
    damping = params[1]
    scale = params[2:5]
    position = x0 * scale
    velocity = np.zeros_like(x0)
    energy = 0.0
    contacts = 0.0
    for _ in range(STEPS):
        spring = -stiffness * np.tanh(position)
        drag = -damping * velocity
        force = spring + drag
        velocity = velocity + DT * force
        position = position + DT * velocity
        height = np.min(position)
        if height < -1.0:
            overlap = -1.0 - height
            velocity = velocity * (1.0 - 0.1 * overlap)
            contacts = contacts + overlap**2
        else:
            contacts = contacts * 0.99
        kinetic = 0.5 * np.sum(velocity * velocity)
        potential = stiffness * np.sum(np.log(np.cosh(position)))
        energy = energy + DT * (kinetic + potential)
    residual = position - target
    fit = np.mean(residual**2)
    weights = np.exp(-np.abs(residual))
    weights = weights / np.sum(weights)
    penalty = 0.0
    rate = 0.5
    for k in range(10):
        grad_like = 2.0 * weights * residual
        norm = np.sqrt(np.sum(grad_like**2) + 1e-12)
        if norm < 1e-3:
            break
        step_size = rate / (1.0 + k)
        residual = residual - step_size * grad_like / norm
        penalty = penalty + np.sum(np.abs(residual)) * step_size
        if penalty > 10.0:
            penalty = 10.0 + np.log1p(penalty - 10.0)
    smooth = np.sum(np.diff(position) ** 2)
    total = fit + 0.01 * energy + 0.1 * contacts + 0.05 * penalty + smooth
    return total


def arguments() -> tuple:
    rng = np.random.default_rng(5)
    params = np.array([1.5, 0.3, 1.0, 0.8, 1.2])
    return params, rng.standard_normal(3), rng.standard_normal(3)
