"""no_grad / enable_grad / set_grad_enabled: context managers, decorators, per thread."""

import threading

import pytest

import srcdiff as sd


def records() -> bool:
    return (sd.ones(1, requires_grad=True) * 2).requires_grad


def test_no_grad_context():
    assert sd.is_grad_enabled() and records()
    with sd.no_grad():
        assert not sd.is_grad_enabled() and not records()
    assert sd.is_grad_enabled() and records()


def test_no_grad_as_decorator_with_and_without_call():
    @sd.no_grad()
    def called():
        return records()

    @sd.no_grad
    def bare():
        return records()

    assert called() is False and bare() is False and sd.is_grad_enabled()
    assert called.__name__ == "called"


def test_enable_grad_inside_no_grad():
    with sd.no_grad():
        with sd.enable_grad():
            assert records()
        assert not records()

    @sd.enable_grad()
    def inner():
        return records()

    with sd.no_grad():
        assert inner() is True and not sd.is_grad_enabled()


def test_set_grad_enabled():
    with sd.set_grad_enabled(False):
        assert not records()
    assert records()
    sd.set_grad_enabled(False)
    try:
        assert not sd.is_grad_enabled()
    finally:
        sd.set_grad_enabled(True)

    @sd.set_grad_enabled(False)
    def off():
        return sd.is_grad_enabled()

    assert sd.is_grad_enabled() and off() is False and sd.is_grad_enabled()


def test_nesting_and_exceptions_restore_the_mode():
    ctx = sd.no_grad()
    with ctx:
        with ctx:
            pass
        assert not sd.is_grad_enabled()
    with pytest.raises(ValueError), sd.no_grad():
        raise ValueError
    assert sd.is_grad_enabled()


def test_no_grad_is_per_thread():
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def worker():
        with sd.no_grad():
            inside.set()
            checked.wait(5)
            seen["worker"] = records()

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    seen["main"] = records()  # the worker is inside no_grad right now
    checked.set()
    thread.join(5)
    assert seen == {"main": True, "worker": False}


def test_new_threads_start_with_grad_enabled():
    seen = []
    with sd.no_grad():
        thread = threading.Thread(target=lambda: seen.append(sd.is_grad_enabled()))
        thread.start()
        thread.join(5)
    assert seen == [True]
