"""workbench.validation: the package's one set of argument checkers."""

from __future__ import annotations

import math

import pytest

from workbench.validation import check_bool, check_choice, check_int, check_number, check_path, fail


def test_values_are_returned_converted():
    assert check_number("x", 3, 0, 5) == 3.0 and isinstance(check_number("x", 3, 0, 5), float)
    assert check_int("n", 4, 1, 4) == 4
    assert check_choice("c", "b", ("a", "b")) == "b"
    assert check_bool("f", False) is False
    assert check_path("p", "runs/x") == "runs/x"


@pytest.mark.parametrize("call, message", [
    (lambda: check_number("lr", 0.0, 0.0, 10.0, lo_open=True), r"lr must be a finite number in \(0, 10\]; got 0.0"),
    (lambda: check_number("lr", math.nan), r"lr must be a finite number in \(-inf, inf\); got nan"),
    (lambda: check_number("lr", True), "got True"),
    (lambda: check_int("n", 2.0, 1), r"n must be an integer >= 1; got 2.0"),
    (lambda: check_int("n", 11, 1, 10), r"n must be an integer in \[1, 10\]; got 11"),
    (lambda: check_int("n", False, 0), "got False"),
    (lambda: check_choice("mode", "up", ("min", "max")), r"mode must be one of \['min', 'max'\]; got 'up'"),
    (lambda: check_choice("mode", ["min"], {"min", "max"}), r"mode must be one of .*; got \['min'\]"),
    (lambda: check_bool("flag", 1), "flag must be True or False; got 1"),
    (lambda: check_path("dir", ""), "dir must be a non-empty path string; got ''"),
    (lambda: check_path("dir", 3), "dir must be a non-empty path string; got 3"),
])
def test_messages_name_the_argument_its_range_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_optional_accepts_none_and_says_so():
    assert check_number("x", None, 0, 1, optional=True) is None
    assert check_int("n", None, 1, optional=True) is None
    assert check_choice("c", None, ("a",), optional=True) is None
    assert check_bool("f", None, optional=True) is None
    assert check_path("p", None, optional=True) is None
    with pytest.raises(ValueError, match=r"n must be an integer >= 1 or None; got 0"):
        check_int("n", 0, 1, optional=True)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1; got None"):
        check_int("n", None, 1)
    with pytest.raises(ValueError, match=r"x must be a finite number in \[0, 1\] or None; got 2"):
        check_number("x", 2, 0, 1, optional=True)


def test_prefix_says_whose_argument_it_is():
    with pytest.raises(ValueError, match=r"^TrainingConfig\.lr must be a finite number"):
        check_number("lr", -1, 0, prefix="TrainingConfig.")
    with pytest.raises(ValueError, match=r"^schedule 'step': gamma must be"):
        check_number("gamma", 2, 0, 1, prefix="schedule 'step': ")
    err = fail("betas", "a pair of numbers in [0, 1)", (1.0,), prefix="TrainingConfig.")
    assert isinstance(err, ValueError)
    assert str(err) == "TrainingConfig.betas must be a pair of numbers in [0, 1); got (1.0,)"
