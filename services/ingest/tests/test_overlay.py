import numpy as np

from kuzet.ingest.cameras import ZoneCfg
from kuzet.ingest.overlay import TRACK_BGR, ZONE_BGR, draw_overlay
from kuzet.ingest.tracking import Track


def test_zones_and_tracks_are_drawn_on_a_copy() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    zone = ZoneCfg("cell", ((100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)), True)
    out = draw_overlay(frame, [zone], [Track(1839767116775425, (400.0, 50.0, 500.0, 330.0), 0.9)])
    assert not frame.any()  # the pipeline's frame is shared: never drawn on
    assert tuple(out[200, 100]) == ZONE_BGR and tuple(out[100, 200]) == ZONE_BGR
    assert tuple(out[200, 400]) == TRACK_BGR and tuple(out[330, 450]) == TRACK_BGR
    assert not out[200, 200].any() and not out[200, 450].any()  # insides stay clear
