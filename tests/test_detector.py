"""Detector contracts: quads are [4,2] float32 clockwise from top-left in photo pixels; words are
split at word gaps, lines kept apart, underlines/frames/checkboxes dropped; rotated text gets rotated
quads; metrics match the scorer's definitions."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from detector import Detector
from detector.metrics import DetectionScore, binarization_scores, iou_matrix, line_coverage, match_count
from detector.postprocess import (
    GroupingConfig,
    dominant_angle,
    extract_components,
    group_words,
    ink_to_quads,
    order_quad,
    split_at_gaps,
    word_quad,
)


def text_mask(lines: list[str], h: int = 400, w: int = 900, scale: float = 1.4, pitch: int = 80) -> np.ndarray:
    """uint8 ink mask [h,w] with each string on its own line (cv2.putText)."""
    m = np.zeros((h, w), np.uint8)
    for i, s in enumerate(lines):
        cv2.putText(m, s, (30, 70 + pitch * i), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 3)
    return m


def boxes(quads: list[np.ndarray]) -> list[tuple[float, float, float, float]]:
    return [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]


def test_order_quad_clockwise_from_top_left() -> None:
    pts = np.array([[10, 20], [0, 0], [10, 0], [0, 20]], np.float32)
    q = order_quad(pts)
    assert q.dtype == np.float32 and q.shape == (4, 2)
    np.testing.assert_allclose(q, [[0, 0], [10, 0], [10, 20], [0, 20]])
    # clockwise on screen (y down): positive shoelace area
    area = 0.5 * sum(q[i, 0] * q[(i + 1) % 4, 1] - q[(i + 1) % 4, 0] * q[i, 1] for i in range(4))
    assert area > 0


def test_word_quad_follows_angle() -> None:
    angle = math.radians(20)
    u = np.linspace(0, 100, 50)
    pts = np.stack([u * math.cos(angle), u * math.sin(angle)], 1).astype(np.float32)
    q = word_quad(pts, angle)
    top = q[1] - q[0]
    assert abs(math.degrees(math.atan2(top[1], top[0])) - 20) < 1.0


def test_words_split_and_lines_kept_apart() -> None:
    """Three words on two lines -> three quads, none spanning both lines."""
    quads, angle, h = ink_to_quads(text_mask(["alpha beta", "gamma"]))
    assert abs(angle) < math.radians(3)
    bx = sorted(boxes(quads), key=lambda b: (round(b[1] / 40), b[0]))
    assert len(bx) == 3, bx
    assert bx[0][2] < bx[1][0]  # alpha left of beta
    assert bx[2][1] > bx[0][3] - 5  # gamma below the first line


def test_dots_and_accents_join_their_word() -> None:
    m = text_mask(["lilith is ill"])
    quads, _, _ = ink_to_quads(m)
    assert len(quads) == 3


def test_underline_frame_and_checkbox_are_not_words() -> None:
    m = text_mask(["word one"])
    cv2.line(m, (30, 85), (300, 85), 255, 3)  # underline (touching nothing)
    cv2.rectangle(m, (20, 20), (360, 110), 255, 3)  # frame around the words
    cv2.rectangle(m, (500, 40), (530, 70), 255, 3)  # empty checkbox
    quads, _, _ = ink_to_quads(m)
    assert len(quads) == 2, boxes(quads)


@pytest.mark.parametrize("deg", [-12.0, 7.0])
def test_rotated_text(deg: float) -> None:
    m = text_mask(["rotated words here", "and a second line"], h=600, w=1000)
    rot = cv2.getRotationMatrix2D((500, 300), deg, 1.0)
    m = cv2.warpAffine(m, rot, (1000, 600))
    quads, angle, _ = ink_to_quads((m > 127).astype(np.uint8))
    # cv2 rotates counter-clockwise for positive angles; image-y-down angle is the negative
    assert abs(math.degrees(angle) + deg) < 2.5
    assert len(quads) == 7  # rotated|words|here, and|a|second|line


def test_dominant_angle_of_rows() -> None:
    xs = np.tile(np.arange(100) * 3.0, 3)
    ys = np.repeat([0.0, 40.0, 80.0], 100) + xs * math.tan(math.radians(10))
    assert abs(math.degrees(dominant_angle(np.stack([xs, ys], 1), bin_px=3.0)) - 10) < 0.5


def test_group_words_and_split_at_gaps() -> None:
    # u0,u1,v0,v1: letters 20 tall, 4 px apart, a 30 px gap, then more letters
    ext = np.array([[0, 10, 0, 20], [14, 24, 0, 20], [54, 64, 0, 20], [68, 78, 0, 20]], np.float32)
    words = sorted(sorted(w) for w in group_words(ext))
    assert words == [[0, 1], [2, 3]]
    one = split_at_gaps(ext, [0, 1, 2, 3], GroupingConfig())
    assert sorted(sorted(w) for w in one) == [[0, 1], [2, 3]]


def test_extract_components_holes() -> None:
    m = np.zeros((50, 50), np.uint8)
    cv2.rectangle(m, (5, 5), (40, 40), 255, 2)
    comps = extract_components(m)
    assert len(comps) == 1 and comps.hole_area[0] > comps.area[0]


def test_detector_maps_back_to_photo_pixels() -> None:
    """Ink at a reduced scale -> quads in photo pixels, [4,2] float32, inside the photo."""
    ink_small = text_mask(["scale test"], h=300, w=400, scale=1.0).astype(np.float32) / 255
    rgb = np.zeros((1200, 1600, 3), np.uint8)
    dets = Detector.load().detect(rgb, ink_small)
    assert len(dets) == 2
    for d in dets:
        assert d.quad.shape == (4, 2) and d.quad.dtype == np.float32
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= 1600 and 0 <= y0 < y1 <= 1200
    assert min(d.box[0] for d in dets) > 100  # scaled by 4 (putText starts at x=30)


def test_empty_ink_gives_no_words() -> None:
    assert Detector.load().detect(np.zeros((100, 100, 3), np.uint8), np.zeros((100, 100), np.float32)) == []


def test_detection_metrics() -> None:
    gt = [(0, 0, 10, 10), (20, 0, 30, 10)]
    pred = [(0, 0, 10, 10), (21, 0, 31, 10), (50, 50, 60, 60)]
    assert iou_matrix(np.array(pred), np.array(gt)).shape == (3, 2)
    assert match_count(np.array(pred), np.array(gt), 0.5) == 2
    s = DetectionScore(0.5)
    s.add(pred, gt)
    assert s.precision == pytest.approx(2 / 3) and s.recall == 1.0 and s.f1 == pytest.approx(0.8)
    # one-to-one: two predictions on one ground truth count once
    assert match_count(np.array([(0, 0, 10, 10), (0, 0, 10, 10)]), np.array([(0, 0, 10, 10)])) == 1


def test_line_coverage() -> None:
    line = (0, 0, 100, 20)
    assert line_coverage([(0, 0, 40, 20), (30, 2, 60, 18)], line) == pytest.approx(0.6)
    assert line_coverage([(0, 30, 100, 50)], line) == 0.0


def test_binarization_scores() -> None:
    gt = np.zeros((10, 10), bool)
    gt[2:5, 2:5] = True
    f, psnr = binarization_scores(gt, gt)
    assert f == pytest.approx(100.0) and psnr == float("inf")
    pred = gt.copy()
    pred[0, 0] = True
    f, psnr = binarization_scores(pred, gt)
    assert f == pytest.approx(100 * 2 * 0.9 * 1 / 1.9) and psnr == pytest.approx(20.0)
