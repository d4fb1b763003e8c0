# srcdiff: gradient of newton_while (tests/compiler/golden_functions.py:44) with respect to a
# path: ((0,), (1,))
# to run: _saved, _path = {}, []; value = newton_while_primal(_saved, _path, <args>); rt.path_key(_path); grads = newton_while_adjoint(_saved, 1.0)
from srcdiff import runtime as rt


def newton_while_primal(_saved, _path, /, a):
    # line 45: x = a
    x = a
    # line 46: n = 0
    n = 0
    # line 47: while n < 5:
    _saved[1] = (a, x)
    _loop2 = rt.Iterations()
    _saved[2] = _loop2
    _path.append(_loop2)
    while True:
        _s1 = {}
        _p1 = []
        _loop2.append([_p1, _s1])
        t1 = n < 5
        t2 = not t1
        if t2:
            _p1.append(1)
            break
        else:
            _p1.append(0)
        # line 48: x = 0.5 * (x + a / x)
        t3 = a / x
        _s1[3] = (x, t3)
        t4 = x + t3
        x = 0.5 * t4
        # line 49: n = n + 1
        t5 = n + 1
        n = t5
    _saved[4] = x
    # line 50: return x
    return x


def newton_while_adjoint(_saved, d_result):
    # line 47: while n < 5:
    a = _saved[1][0]
    d_a = rt.zeros_like(a)
    d_x = d_result
    for _v1, _s1 in reversed(_saved[2]):
        if _v1 == 0:
            # line 48: x = 0.5 * (x + a / x)
            d_t4 = d_x * 0.5
            x, t3 = _s1[3]
            d_a += d_t4 / x
            d_x = d_t4 - d_t4 * t3 / x
            # line 47: if branch not taken
        else:
            # line 47: if branch taken
            pass
    # line 45: x = a
    d_a = d_a + d_x
    return (d_a,)
