"""The test shared by every ``tests/test_fuzz_*.py``: one parametrized case per row of its ``CASES``
(see the convention at the top of ``test_fuzz_estimator.py``)."""

import pytest


def fuzz_test(cases):
    """A test running each ``(name, call, exc, match)`` of ``cases``: ``call()`` raises ``exc`` with a
    message matching ``match``, or, where ``exc`` is ``None``, returns a value ``match`` accepts."""

    @pytest.mark.parametrize("name, call, exc, match", cases, ids=[f"{c[0]}-{i}" for i, c in enumerate(cases)])
    def test_fuzz(name, call, exc, match):
        if exc is None:
            assert match(call())
        else:
            with pytest.raises(exc, match=match):
                call()

    return test_fuzz
