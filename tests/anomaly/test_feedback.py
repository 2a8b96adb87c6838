"""Analysts' verdicts as lessons: shrunk from staff to organisation to all, bounded, never lifting above the floor."""

from __future__ import annotations

from anomaly.feedback import MAX_SHIFT, OTHERS_MAX_SINK, Verdict, adjusted, lesson

FLOOR = 5.0


def v(staff: str, org: str, codes: set[str], confirmed: bool) -> Verdict:
    return Verdict(staff, org, frozenset(codes), confirmed)


def test_no_verdict_on_the_pattern_teaches_nothing() -> None:
    known = [v("A", "131016", {"household"}, False)]
    assert lesson([], "A", "131016", {"household"}) is None
    assert lesson(known, "A", "131016", {"neighbour"}) is None
    # new evidence beside a judged one escapes the lesson: the analyst never judged the neighbour accesses
    assert lesson(known, "A", "131016", {"household", "neighbour"}) is None


def test_rejections_sink_the_same_pattern_more_the_closer_they_are() -> None:
    known = [v("A", "131016", {"after_hours"}, False), v("A", "131016", {"after_hours"}, False)]
    same_staff = lesson(known, "A", "131016", {"after_hours"})
    same_org = lesson(known, "B", "131016", {"after_hours"})
    other_org = lesson(known, "C", "271004", {"after_hours"})
    assert same_staff.shift < same_org.shift < other_org.shift < 0
    assert same_staff.rejected_for_staff == 2 and same_org.rejected_for_staff == 0
    assert -MAX_SHIFT <= same_staff.shift


def test_one_verdict_moves_a_little_many_move_a_lot() -> None:
    one = lesson([v("A", "131016", {"curiosity"}, False)], "A", "131016", {"curiosity"})
    many = lesson([v("A", "131016", {"curiosity"}, False)] * 12, "A", "131016", {"curiosity"})
    assert many.shift < one.shift < 0
    assert many.shift == -MAX_SHIFT  # bounded


def test_confirmations_raise_the_rank_but_never_lift_above_the_floor() -> None:
    known = [v("A", "131016", {"household"}, True)] * 5
    taught = lesson(known, "A", "131016", {"household"})
    assert taught.shift > 0 and taught.probability > 0.5
    ranked, kept = adjusted(FLOOR - 0.5, FLOOR, taught)
    assert ranked > FLOOR - 0.5 and not kept  # evidence raises alerts, not reputation
    ranked, kept = adjusted(FLOOR + 0.5, FLOOR, taught)
    assert ranked > FLOOR + 0.5 and kept


def test_rejections_may_hold_a_candidate_back_below_the_floor() -> None:
    known = [v("A", "131016", {"after_hours"}, False)] * 4
    taught = lesson(known, "A", "131016", {"after_hours"})
    assert adjusted(FLOOR + 0.5, FLOOR, taught) == (FLOOR + 0.5 + taught.shift, False)
    assert adjusted(FLOOR + 0.5, FLOOR, None) == (FLOOR + 0.5, True)
    # a very strong candidate of the same pattern still comes through
    assert adjusted(FLOOR + MAX_SHIFT + 0.1, FLOOR, taught)[1]


def test_what_was_rejected_for_other_people_holds_back_only_weak_evidence() -> None:
    known = [v("A", "131016", {"after_hours"}, False)] * 6
    colleague = lesson(known, "B", "131016", {"after_hours"})
    assert colleague.shift < -OTHERS_MAX_SINK  # ranked well down the queue ...
    assert not adjusted(FLOOR + 0.5, FLOOR, colleague)[1]  # ... held back just over the floor ...
    assert adjusted(FLOOR + OTHERS_MAX_SINK + 0.1, FLOOR, colleague)[1]  # ... but clear evidence still raised
    same_person = lesson(known, "A", "131016", {"after_hours"})
    assert not adjusted(FLOOR + OTHERS_MAX_SINK + 0.1, FLOOR, same_person)[1]
