"""The error -> status table: every domain error has a status of its own, never INTERNAL."""

from __future__ import annotations

import grpc

from eduscore.errors import EduScoreError, Overloaded, QueueFull
from eduscore.serving.status import STATUS_OF, status_of


def _subclasses(kind: type) -> set[type]:
    direct = set(kind.__subclasses__())
    return direct.union(*(_subclasses(k) for k in direct))


def test_every_domain_error_maps_to_a_status_other_than_internal() -> None:
    kinds = _subclasses(EduScoreError)
    assert len(kinds) >= 6  # InvalidInput, Overloaded, QueueFull, ShuttingDown, Deadline, Load
    unmapped = {k.__name__ for k in kinds if status_of(k) is grpc.StatusCode.INTERNAL}
    assert unmapped == set()
    assert set(STATUS_OF) <= kinds


def test_a_subclass_maps_as_its_nearest_listed_base_and_bugs_are_internal() -> None:
    assert QueueFull not in STATUS_OF
    assert status_of(QueueFull) is status_of(Overloaded) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_of(RuntimeError) is grpc.StatusCode.INTERNAL
    assert status_of(EduScoreError) is grpc.StatusCode.INTERNAL  # the bare base is a bug too
