"""Functions assigning a global of another module (``module_counter.N``), each in its
own way."""

import sys


def by_attribute():
    from . import module_counter

    module_counter.N += 1.0
    return 1.0


def by_setattr():
    from . import module_counter

    module_counter.N = module_counter.N + 1.0
    return 1.0


def by_sys_modules():
    module = sys.modules[__name__.rsplit(".", 1)[0] + ".module_counter"]
    module.N = module.N * 3.0
    return 1.0
