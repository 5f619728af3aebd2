"""`controller.cli.args.whole_number`: the bounded whole numbers `loa` takes."""

from __future__ import annotations

import argparse

import pytest

from controller.cli.args import whole_number


def test_a_whole_number_in_range_is_taken_and_others_are_said_why() -> None:
    percent = whole_number(0, 100)
    assert (percent("0"), percent("100"), percent(" 35 ")) == (0, 100, 35)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^101 is out of range; give 0 to 100$"):
        percent("101")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'3.5' is not a whole number; give"):
        percent("3.5")
