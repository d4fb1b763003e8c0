"""Functions with ``with`` blocks, for second derivatives through them (a module of its
own: srcdiff reads their source)."""

import numpy as np

LOG: list[str] = []


class Tracker:
    """A context manager noting each entry and exit."""

    def __enter__(self) -> "Tracker":
        LOG.append("enter")
        return self

    def __exit__(self, *exc: object) -> bool:
        LOG.append("exit")
        return False


TRACKER = Tracker()


def log_squared(x):
    with np.errstate(divide="ignore"):
        y = np.log(x) * x
    return np.sum(y * y)


def tracked_loop(x):
    s = 0.0
    for i in range(2):
        with TRACKER:
            y = np.sin(x) * (i + 1.0)
            if np.sum(y) > 3.0:
                raise ValueError("too large")
        s = s + np.sum(y * y)
    return s
