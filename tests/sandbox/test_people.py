"""The fake people both sandboxes seed from."""

from woohub.sandbox.people import people


def test_people_are_deterministic_unique_and_prefix_stable() -> None:
    longer = people(7, 120)
    assert people(7, 120) == longer
    assert people(7, 80) == longer[:80], "a smaller store must share its people with a larger one"
    assert len({p.email for p in longer}) == 120
    assert people(8, 10) != longer[:10]


def test_people_are_as_messy_as_real_buyers() -> None:
    crowd = people(3, 300)
    assert any(not p.phone for p in crowd), "some people give no phone"
    assert any(any(ord(ch) > 127 for ch in p.first_name + p.last_name) for p in crowd), "unicode names"
    assert len({p.country for p in crowd}) >= 4
