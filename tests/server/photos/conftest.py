"""Fixtures of the photo tests: a chained plan and tokens of regency 3513."""

from __future__ import annotations

import pytest

from tests.factories import label_text, make_plan, token, trust_key


@pytest.fixture
def world(region, session, label_key):
    """Return the plan, its labels and tokens of regency 3513 (everything chained)."""
    plan = make_plan(session, region)
    trust_key(session, label_key)
    w = {"plan": plan,
         "labels": {pid: label_text(p, label_key) for pid, p in plan.items()},
         "admin": token(session, "admin", "3513"),
         "operator": token(session, "operator", "3513"),
         "observer": token(session, "observer", "3513")}
    session.commit()
    return w
