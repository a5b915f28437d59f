"""Shared plane geometry: the even-odd rule with edges inside, touching segments, areas."""

from __future__ import annotations

from kuzet.common.geometry import point_in_polygon, polygon_area, segments_intersect, signed_area

SQUARE = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
# A U open at the top: the notch (10..20, 10..30) is outside.
U_SHAPE = [
    (0.0, 0.0),
    (30.0, 0.0),
    (30.0, 30.0),
    (20.0, 30.0),
    (20.0, 10.0),
    (10.0, 10.0),
    (10.0, 30.0),
    (0.0, 30.0),
]


def test_points_in_polygons() -> None:
    assert point_in_polygon((5, 5), SQUARE)
    assert not point_in_polygon((11, 5), SQUARE) and not point_in_polygon((-0.1, 5), SQUARE)
    # A border belongs to the zone, corners included.
    assert point_in_polygon((10, 5), SQUARE) and point_in_polygon((0, 0), SQUARE)
    assert point_in_polygon((5, 5), U_SHAPE) and point_in_polygon((25, 25), U_SHAPE)
    assert not point_in_polygon((15, 20), U_SHAPE)


def test_segments_meet() -> None:
    assert segments_intersect((0, 0), (10, 10), (0, 10), (10, 0))
    assert segments_intersect((0, 0), (5, 5), (5, 5), (10, 0))  # touching at an end
    assert segments_intersect((0, 0), (10, 0), (5, 0), (15, 0))  # overlapping on a line
    assert not segments_intersect((0, 0), (4, 0), (5, 0), (15, 0))
    assert not segments_intersect((0, 0), (10, 0), (0, 1), (10, 1))


def test_areas() -> None:
    assert signed_area(SQUARE) == 100.0 and signed_area(SQUARE[::-1]) == -100.0
    assert polygon_area(SQUARE[::-1]) == 100.0
    assert polygon_area(U_SHAPE) == 900.0 - 200.0
    assert polygon_area([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]) == 0.0
