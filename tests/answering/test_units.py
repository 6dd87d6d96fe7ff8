"""Units a question names, and figures written in them: known answers."""

from __future__ import annotations

import re

import pytest

from rag.answering.units import MEASURE, in_unit, unit_named


@pytest.mark.parametrize("asking, unit", [
    ("how large is nato's annual common budget in euros?", "euro"),
    ("how long in kilometers is the border?", "kilometre"),
    ("what percentage of gdp?", "percent"),
    ("how many miles did they march?", "mile"),
    ("how many members does nato have?", None),
])
def test_the_unit_a_question_names(asking, unit):
    assert unit_named(asking) == unit


@pytest.mark.parametrize("sentence, figure, unit, given", [
    ("The budget is €2.5 billion this year.", "€2.5", "euro", True),
    ("It spent 95 billion euros on arms.", "95", "euro", True),
    ("The 1,340-kilometre border with Russia.", "1,340", "kilometre", True),
    ("About 2% of GDP.", "2", "percent", True),
    ("The border is 1,340 miles long.", "1,340", "kilometre", False),
    ("It has 32 members.", "32", "percent", False),
])
def test_a_figure_in_its_unit(sentence, figure, unit, given):
    m = re.compile(re.escape(figure)).search(sentence)
    assert in_unit(sentence, m, unit) is given


def test_a_share_or_a_sum_is_a_measure_not_a_count():
    assert MEASURE.search("2%") and MEASURE.search("$95") and not MEASURE.search("32")
