"""The orders PyTorch's CPU ``sort`` and ``topk`` give, tied entries included.

PyTorch sorts a dim with ``std::sort`` (``stable=False``, its default) or
``std::stable_sort``, and finds the top ``k`` with ``std::partial_sort`` (``k * 64 <= n``)
or ``std::nth_element`` followed by ``std::sort`` of the first ``k - 1`` (with
``sorted=True``). Where a dim holds no two equal values, each of these orders is the one
a sort gives, and NumPy's stable ``argsort`` finds it; where it does, the indices of
the tied entries (and so which of them gets a value's gradient) are the ones the C++
algorithms leave, which this module reproduces step by step, as libstdc++ (GCC's
standard library, PyTorch's Linux builds) runs them, on the rows that tie. NaN is
larger than every number and equal to every NaN, as PyTorch compares them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module, to_numpy

_THRESHOLD = 16  # libstdc++'s _S_threshold: std::sort's insertion sort below it
_GRAIN_SIZE = 32768  # at::internal::GRAIN_SIZE: where a 1-D integer sort is a radix sort


def sort_order(x: Any, dim: int, descending: bool = False, stable: bool = False) -> Any:
    """The indices of ``x.sort(dim, descending, stable=stable)``, in ``x``'s module."""
    keys, back = _rows(x, dim, descending)
    n = keys.shape[-1]
    order = np.argsort(keys, axis=-1, kind="stable")
    radix = x.ndim == 1 and x.dtype.kind in "iu" and not descending and n >= _GRAIN_SIZE
    if not (stable or radix or n <= _THRESHOLD or _strides_zero(x, dim)):
        for r in np.flatnonzero(_ties(keys, order, n)):  # rows whose order std::sort decides
            order[r] = _indices(_std_sort, keys[r])
    return back(order)


def topk_order(x: Any, k: int, dim: int, largest: bool = True, sorted: bool = True) -> Any:
    """The indices of ``x.topk(k, dim, largest, sorted)``, in ``x``'s module."""
    keys, back = _rows(x, dim, largest)
    n = keys.shape[-1]
    order = np.argsort(keys, axis=-1, kind="stable")
    partial = k * 64 <= n
    if k > 0:
        undecided = (
            _ties(keys, order, k)
            if partial or sorted
            else np.full(keys.shape[:-1], n > 3, dtype=bool)  # nth_element's own order
        )
        for r in np.flatnonzero(undecided):
            row = keys[r]
            if partial:
                order[r, :k] = _indices(lambda a: _partial_sort(a, 0, k, len(a)), row)[:k]
            else:
                order[r, :k] = _indices(lambda a: _select(a, k, sorted), row)[:k]
    return back(order[..., :k])


def _rows(x: Any, dim: int, descending: bool) -> tuple[np.ndarray, Any]:
    """``x``'s dim ``dim`` (``x`` of one dim or more) as the rows of a 2-D array of
    integer keys ordered as PyTorch compares the values (NaN above all and equal to NaN,
    -0.0 equal to 0.0; ``descending``: reversed), and the function that takes an array of
    indices in that layout back to ``x``'s layout (and its module)."""
    xp = array_module(x)
    moved = np.moveaxis(to_numpy(x), dim, -1)
    ranks = np.unique(moved, return_inverse=True)[1].reshape(moved.shape)
    rows = int(np.prod(moved.shape[:-1]))
    keys = (-ranks if descending else ranks).reshape(rows, moved.shape[-1])

    def back(order: np.ndarray) -> Any:
        out = np.moveaxis(order.reshape(*moved.shape[:-1], order.shape[-1]), -1, dim)
        return xp.asarray(np.ascontiguousarray(out, dtype=np.int64))

    return keys, back


def _ties(keys: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Per row, whether two of its first ``k`` keys in order tie, or the ``k``-th ties
    with the next: where the order the algorithms leave is not a sort's alone."""
    ranked = np.take_along_axis(keys, order, axis=-1)
    n = ranked.shape[-1]
    upto = min(k + 1, n)
    return (ranked[:, 1:upto] == ranked[:, : upto - 1]).any(axis=-1)


def _strides_zero(x: Any, dim: int) -> bool:
    """PyTorch leaves a dim of stride 0 (an expanded one) in its order: its values are
    one value."""
    strides = getattr(x, "strides", None)
    return bool(strides) and x.ndim > 0 and strides[dim] == 0


def _indices(algorithm: Any, keys: np.ndarray) -> list[int]:
    """The indices in the order ``algorithm`` leaves ``keys`` in (as pairs of a key and
    an index, compared by key, as PyTorch's are)."""
    a = list(zip(keys.tolist(), range(len(keys)), strict=True))
    algorithm(a)
    return [i for _, i in a]


# ---- libstdc++'s algorithms (bits/stl_algo.h, bits/stl_heap.h), on lists of pairs ------


def _std_sort(a: list) -> None:
    if len(a) > 1:
        _introsort_loop(a, 0, len(a), 2 * (len(a).bit_length() - 1))
        a.sort(key=_key)  # the final insertion sort: stable, on what the loop left


def _select(a: list, k: int, sort_first: bool) -> None:
    """PyTorch's topk without partial_sort: nth_element at ``k - 1``, then std::sort of
    the ``k - 1`` before it (``sorted=True``)."""
    n = len(a)
    if k - 1 < n:
        _introselect(a, 0, k - 1, n, 2 * (n.bit_length() - 1))
    if sort_first and k - 1 > 1:
        head = a[: k - 1]
        _std_sort(head)
        a[: k - 1] = head


def _key(pair: tuple) -> Any:
    return pair[0]


def _introsort_loop(a: list, first: int, last: int, depth: int) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            _partial_sort(a, first, last, last)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last)
        _introsort_loop(a, cut, last, depth)
        last = cut


def _introselect(a: list, first: int, nth: int, last: int, depth: int) -> None:
    while last - first > 3:
        if depth == 0:
            _heap_select(a, first, nth + 1, last)
            a[first], a[nth] = a[nth], a[first]
            return
        depth -= 1
        cut = _partition_pivot(a, first, last)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(a, first, last)


def _partition_pivot(a: list, first: int, last: int) -> int:
    mid = first + (last - first) // 2
    _median_to_first(a, first, first + 1, mid, last - 1)
    pivot = a[first][0]
    lo, hi = first + 1, last
    while True:  # __unguarded_partition
        while a[lo][0] < pivot:
            lo += 1
        hi -= 1
        while pivot < a[hi][0]:
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _median_to_first(a: list, result: int, i: int, j: int, k: int) -> None:
    x, y, z = a[i][0], a[j][0], a[k][0]
    if x < y:
        pick = j if y < z else k if x < z else i
    else:
        pick = i if x < z else k if y < z else j
    a[result], a[pick] = a[pick], a[result]


def _insertion_sort(a: list, first: int, last: int) -> None:
    """Stable: the keys in order, equal ones as they stood."""
    a[first:last] = sorted(a[first:last], key=_key)


def _partial_sort(a: list, first: int, middle: int, last: int) -> None:
    _heap_select(a, first, middle, last)
    while middle - first > 1:  # __sort_heap
        middle -= 1
        _pop_heap(a, first, middle, middle)


def _heap_select(a: list, first: int, middle: int, last: int) -> None:
    length = middle - first
    if length >= 2:  # __make_heap
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent])
            if parent == 0:
                break
            parent -= 1
    for i in range(middle, last):
        if a[i][0] < a[first][0]:
            _pop_heap(a, first, middle, i)


def _pop_heap(a: list, first: int, last: int, result: int) -> None:
    value = a[result]
    a[result] = a[first]
    _adjust_heap(a, first, 0, last - first, value)


def _adjust_heap(a: list, first: int, hole: int, length: int, value: tuple) -> None:
    top = second = hole
    while second < (length - 1) // 2:
        second = 2 * (second + 1)
        if a[first + second][0] < a[first + second - 1][0]:
            second -= 1
        a[first + hole] = a[first + second]
        hole = second
    if length % 2 == 0 and second == (length - 2) // 2:
        second = 2 * (second + 1)
        a[first + hole] = a[first + second - 1]
        hole = second - 1
    parent = (hole - 1) // 2  # __push_heap
    while hole > top and a[first + parent][0] < value[0]:
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


# ---- the entry median and kthvalue pick along a dim ---------------------------------------


def median_order(x: Any, dim: int) -> Any:
    """The index ``x.median(dim)`` gives along ``dim`` (kept, of size 1), in ``x``'s
    module: the first NaN where the dim holds one; else the lower middle of a stable
    sort (PyTorch's ``nth_element`` compares indices where values tie, a total order)."""
    keys, back = _rows(x, dim, False)
    n = keys.shape[-1]
    picked = np.argsort(keys, axis=-1, kind="stable")[:, (n - 1) // 2]
    nan = np.isnan(np.moveaxis(_as_numpy(x), dim, -1)).reshape(keys.shape)
    has_nan = nan.any(axis=-1)
    picked[has_nan] = nan[has_nan].argmax(axis=-1)
    return back(picked[:, None])


def kth_order(x: Any, k: int, dim: int) -> Any:
    """The index ``x.kthvalue(k, dim)`` gives along ``dim`` (kept, of size 1), in ``x``'s
    module: where the ``k``-th smallest value ties, the entry PyTorch's own quickselect
    (``quick_select_template``, NaN above every number) leaves at ``k - 1``."""
    keys, back = _rows(x, dim, False)
    order = np.argsort(keys, axis=-1, kind="stable")
    picked = order[:, k - 1].copy()
    ranked = np.take_along_axis(keys, order, axis=-1)
    tied = (ranked == ranked[:, k - 1 : k]).sum(axis=-1) > 1
    for r in np.flatnonzero(tied):
        picked[r] = _quick_select(keys[r].tolist(), k - 1)
    return back(picked[:, None])


def _as_numpy(x: Any) -> np.ndarray:
    return to_numpy(x) if x.dtype.kind in "fc" else np.zeros(x.shape, dtype=np.float32)


def _quick_select(values: list, k: int) -> int:
    """The index PyTorch's ``quick_select_template`` (ATen's SortingUtils.h) leaves at
    ``k``, its values swapped along with their indices."""
    idx = list(range(len(values)))

    def swap(i: int, j: int) -> None:
        values[i], values[j] = values[j], values[i]
        idx[i], idx[j] = idx[j], idx[i]

    lo, hi = 0, len(values) - 1
    while True:
        if hi <= lo:
            return idx[k]
        if hi == lo + 1:
            if values[lo] > values[hi]:
                swap(lo, hi)
            return idx[k]
        mid = lo + (hi - lo) // 2
        swap(mid, lo + 1)
        if values[lo + 1] > values[hi]:
            swap(lo + 1, hi)
        if values[lo] > values[hi]:
            swap(lo, hi)
        if values[lo + 1] > values[lo]:
            swap(lo + 1, lo)
        i, j, pivot = lo + 1, hi, values[lo]
        while True:
            i += 1
            while pivot > values[i]:
                i += 1
            j -= 1
            while values[j] > pivot:
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
