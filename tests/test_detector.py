"""Detector contracts: quads are [4,2] float32 clockwise from top-left in photo pixels; words are
split at word gaps, lines kept apart, underlines/frames/checkboxes dropped; rotated text gets rotated
quads; metrics match the scorer's definitions."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from detector import Detector
from detector.infer import DetectorConfig
from detector.metrics import DetectionScore, binarization_scores, iou_matrix, line_coverage, match_count
from detector.postprocess import (
    GroupingConfig,
    bar_share,
    dominant_angle,
    extract_components,
    group_words,
    is_star,
    ink_to_quads,
    line_cuts,
    order_quad,
    reference_height,
    split_at_gaps,
    split_multiline,
    tightest_angle,
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


def paste_word(mask: np.ndarray, word: str, x: int, baseline: int, gap: int, scale: float = 1.4) -> int:
    """Draw `word` letter by letter with exactly `gap` px of paper between the letters' ink; returns
    the x just after the last letter's ink."""
    for ch in word:
        glyph = np.zeros((100, 100), np.uint8)
        cv2.putText(glyph, ch, (20, 70), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 3)
        cols = np.flatnonzero(glyph.any(axis=0))
        glyph = glyph[:, cols[0] : cols[-1] + 1]
        mask[baseline - 70 : baseline + 30, x : x + glyph.shape[1]] |= glyph
        x += glyph.shape[1] + gap
    return x - gap


def test_reference_height_ignores_page_scale_components() -> None:
    """A coloured border around the page (one huge component) does not become the character height."""
    m = text_mask(["alpha beta", "gamma delta"], h=400, w=900)
    cv2.rectangle(m, (5, 5), (894, 394), 255, 14)
    comps = extract_components(m)
    heights = comps.bbox[:, 3] - comps.bbox[:, 1]
    assert reference_height(heights, comps.area) > 300  # the border outweighs the letters
    assert reference_height(heights, comps.area, 0.25 * m.shape[0]) < 40
    quads, _, h = ink_to_quads(m)
    assert h < 40 and len(quads) == 4, boxes(quads)


def test_gaps_are_measured_in_character_heights() -> None:
    """Letters spaced a third of a character height apart stay one word, even short letters whose
    own height is smaller than the gap allows; a gap of one character height separates words."""
    m = np.zeros((200, 1200), np.uint8)
    _, _, h = ink_to_quads(text_mask(["Hello there"], h=200, w=1200))
    assert 20 < h < 40
    x = paste_word(m, "Hello", 30, 100, gap=int(0.33 * h))
    x = paste_word(m, "sun", x + int(1.0 * h), 100, gap=int(0.33 * h))
    paste_word(m, "there", x + int(1.0 * h), 100, gap=int(0.33 * h))
    quads, _, h2 = ink_to_quads(m)
    assert abs(h2 - h) < 5
    assert len(quads) == 3, boxes(quads)


def test_lone_marks_are_not_words() -> None:
    """Dashes, arrows, filled discs and squares (bullets, punched holes, magnets), ticks and specks
    on their own are dropped; a one-letter word is kept."""
    m = text_mask(["one two", "I", "three"], h=420, w=900)
    cv2.line(m, (500, 60), (560, 60), 255, 4)  # a dash
    cv2.arrowedLine(m, (500, 140), (600, 140), 255, 3, tipLength=0.25)  # an arrow
    cv2.circle(m, (700, 60), 10, 255, -1)  # a punched hole
    cv2.rectangle(m, (680, 120), (712, 152), 255, -1)  # a magnet
    cv2.polylines(m, [np.array([[760, 125], [772, 148], [795, 110]], np.int32)], False, 255, 4)  # a tick
    cv2.circle(m, (850, 60), 2, 255, -1)  # a speck
    quads, _, _ = ink_to_quads(m)
    bx = sorted(boxes(quads), key=lambda b: (b[1] // 40, b[0]))
    assert len(bx) == 4, bx  # one, two, I, three
    assert all(b[2] < 480 for b in bx)


def test_tick_is_dropped_but_a_lone_v_stays() -> None:
    """A tick (one arm much longer) is a mark; a v (a word in Czech or Slovak) is not."""
    m = text_mask(["words on", "a line"], h=300, w=700)
    cv2.polylines(m, [np.array([[420, 52], [430, 70], [450, 40]], np.int32)], False, 255, 4)  # tick
    cv2.putText(m, "v", (420, 150), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    quads, _, _ = ink_to_quads(m)
    bx = boxes(quads)
    assert len(bx) == 5, bx
    assert not any(b[0] > 400 and b[3] < 100 for b in bx)


def test_thick_checkbox_is_dropped_round_letters_stay() -> None:
    """A hand-drawn checkbox with a broad pen is not a word; o, d, O and D next to it are letters."""
    m = text_mask(["   do OD"], h=200, w=600)
    cv2.rectangle(m, (32, 36), (68, 72), 255, 7)
    quads, _, _ = ink_to_quads(m)
    bx = sorted(boxes(quads))
    assert len(bx) == 2, bx
    assert bx[0][0] > 75  # the box is gone, "do" starts after it


def test_leading_dash_and_arrow_leave_the_word_hyphens_stay() -> None:
    """List markers written close to the first word are not part of it; a hyphen inside a word is."""
    m = text_mask(["", "kick-out"], h=300, w=700)
    cv2.line(m, (30, 52), (52, 52), 255, 4)  # a bullet dash right before "item"
    cv2.putText(m, "item", (62, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    cv2.arrowedLine(m, (300, 52), (350, 52), 255, 3, tipLength=0.3)
    cv2.putText(m, "next", (360, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    quads, _, _ = ink_to_quads(m)
    bx = sorted(boxes(quads), key=lambda b: (b[1] // 40, b[0]))
    assert len(bx) == 3, bx
    assert bx[0][0] >= 58 and bx[1][0] >= 356  # item, next without their markers
    assert bx[2][2] - bx[2][0] > 150  # kick-out in one piece


def test_broken_edge_line_is_not_words() -> None:
    """A straight line across the text direction broken into short pieces (a page edge, a margin
    rule) is dropped; a lone digit beside the text stays."""
    m = text_mask(["words here", "and 4 there"], h=400, w=900)
    for y in range(20, 380, 40):
        cv2.line(m, (850, y), (850, y + 24), 255, 3)
    quads, _, _ = ink_to_quads(m)
    bx = boxes(quads)
    assert len(bx) == 5, bx
    assert all(b[2] < 800 for b in bx)


def test_full_stop_does_not_join_the_line_below() -> None:
    """A full stop at the end of a line sits above the next line's letters, but stays on its line."""
    m = np.zeros((200, 600), np.uint8)
    cv2.putText(m, "end.", (30, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    cv2.putText(m, "sans mano", (40, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    quads, _, _ = ink_to_quads(m)
    bx = sorted(boxes(quads), key=lambda b: (b[1] // 30, b[0]))
    assert len(bx) == 3, bx
    assert bx[0][3] < bx[1][1] + 10  # "end." above "sans", not merged with it


def test_wood_grain_is_not_words() -> None:
    """Short thin parallel strokes (desk grain), thinner than the pen, form no words."""
    m = text_mask(["notes on", "a desk", "with grain", "beside it"], h=400, w=1000)
    rng = np.random.default_rng(0)
    for y in range(20, 360, 40):
        for x in range(560, 960, 24):
            length = int(rng.integers(12, 30))
            y0 = y + int(rng.integers(0, 10))
            cv2.line(m, (x, y0), (x + int(0.7 * length), y0 + length), 255, 1)  # 35 degrees off upright
    quads, _, _ = ink_to_quads(m)
    bx = boxes(quads)
    assert len(bx) == 8, bx
    assert all(b[2] < 560 for b in bx)


def test_tightest_angle_follows_a_tilted_word() -> None:
    """A word tilted 6 degrees from the page's text direction gets a quad along its own direction."""
    m = np.zeros((300, 600), np.uint8)
    cv2.putText(m, "tilted", (150, 170), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 3)
    m = cv2.warpAffine(m, cv2.getRotationMatrix2D((300, 150), -6, 1.0), (600, 300))
    pts = np.concatenate(extract_components(m > 127).contours)
    ang = tightest_angle(pts, 0.0, 10.0)
    assert abs(math.degrees(ang) - 6.0) < 1.6
    assert tightest_angle(pts, 0.0, 0.0) == 0.0


def test_bar_share() -> None:
    """1 for a dash, most of an arrow, little of a word or of an underlined word."""
    def contour(draw) -> np.ndarray:
        m = np.zeros((120, 400), np.uint8)
        draw(m)
        comps = extract_components(m)
        return comps.contours[int(np.argmax(comps.area))]

    dash = contour(lambda m: cv2.line(m, (20, 60), (120, 60), 255, 4))
    arrow = contour(lambda m: cv2.arrowedLine(m, (20, 60), (220, 60), 255, 4, tipLength=0.15))
    word = contour(lambda m: cv2.putText(m, "mum", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 4))

    def underlined(m: np.ndarray) -> None:
        cv2.putText(m, "See", (100, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 4)
        cv2.line(m, (20, 84), (300, 84), 255, 4)

    under = contour(underlined)
    assert bar_share(dash, 0.0, 8.0, 4.0) > 0.95
    assert bar_share(arrow, 0.0, 8.0, 4.0) > 0.7
    assert bar_share(word, 0.0, 8.0, 4.0) < 0.5
    assert bar_share(under, 0.0, 8.0, 4.0) < 0.5


def _row(widths: list[list[float]], letter_gap: float, word_gap: float, h: float = 20.0) -> np.ndarray:
    """Extents [n,4] (u0,u1,v0,v1) of words (lists of component widths) on one line, components
    `letter_gap` apart (negative: overlapping along the line, as slanted letters do) and words
    `word_gap` apart."""
    ext, u = [], 0.0
    for w_i, word in enumerate(widths):
        if w_i:
            u += word_gap
        for k, w in enumerate(word):
            if k:
                u += letter_gap
            ext.append((u, u + w, 0.0, h))
            u += w
    return np.asarray(ext, np.float32)


def _word_sizes(words: list[list[int]]) -> list[int]:
    return sorted(len(w) for w in words)


def test_slanted_letters_keep_narrow_word_gaps_apart() -> None:
    # italic letters overlap along the line (-3 px); words only 0.35 H apart: the line's own
    # spacing separates them where the page-wide gap (0.35-0.5 H) would not be sure to
    ext = _row([[10] * 4, [10] * 5, [10] * 3], letter_gap=-3, word_gap=7)
    assert _word_sizes(group_words(ext, GroupingConfig(), h_ref=20.0)) == [3, 4, 5]


def test_letter_spaced_words_stay_whole() -> None:
    # letters 0.3 H apart (a wide hand) and words 0.8 H apart: letters join, words do not
    ext = _row([[10] * 4, [10] * 4], letter_gap=6, word_gap=16)
    assert _word_sizes(group_words(ext, GroupingConfig(), h_ref=20.0)) == [4, 4]


def test_cursive_words_use_the_page_gap() -> None:
    # each word one wide component (cursive), 0.4 H apart: with no letter gaps to learn from, the
    # line keeps the page-wide word gap and does not take its word gaps for letter spacing
    ext = _row([[60], [70], [50], [65]], letter_gap=0, word_gap=8)
    assert len(group_words(ext, GroupingConfig(), h_ref=20.0)) == 4


def test_hysteresis_keeps_faint_strokes_touching_ink() -> None:
    ink = np.zeros((100, 200), np.float32)
    ink[40:60, 20:60] = 0.9  # strong ink
    ink[48:52, 60:120] = 0.4  # a faint stroke continuing it
    ink[48:52, 150:190] = 0.4  # a faint stroke on its own (noise, ghost writing)
    m = Detector().binary(ink)
    assert m[50, 100] == 1 and m[50, 170] == 0 and m[50, 30] == 1
    assert Detector(DetectorConfig(low_threshold=0.5)).binary(ink)[50, 100] == 0


def test_speck_groups_are_not_words() -> None:
    m = text_mask(["words here"])
    for x in range(420, 600, 12):  # a dotted trail of dust along the line, far smaller than letters
        cv2.circle(m, (x, 60), 2, 255, -1)
    quads, _, h = ink_to_quads(m)
    assert len(quads) == 2, boxes(quads)
    assert max(b[2] for b in boxes(quads)) < 420


def _star(cx: float, cy: float, r: float) -> np.ndarray:
    ang = np.radians(np.arange(10) * 36 - 90)
    rad = np.where(np.arange(10) % 2 == 0, r, 0.4 * r)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)


def test_star_bullets_are_marks_but_letters_are_not() -> None:
    m = text_mask(["item", "WMX"], pitch=90)
    cv2.fillPoly(m, [_star(600, 55, 18)], 255)  # a filled star bullet
    cv2.polylines(m, [_star(600, 145, 18)], True, 255, 3)  # a drawn outline star
    bx = boxes(ink_to_quads(m)[0])
    assert len(bx) == 2, bx
    assert all(b[2] < 560 for b in bx)
    assert is_star(_star(50, 50, 20).astype(np.float32), h_ref=30.0)


def test_marks_between_close_lines_do_not_join_them() -> None:
    # a short mark (an apostrophe of the line above, a descender tip) half a line height above a
    # word is not its accent: the word's box stays on its own line
    m = text_mask(["nun"], h=200, w=300)
    cv2.rectangle(m, (45, 25), (50, 33), 255, -1)  # 12-20 px above the x-height letters
    bx = boxes(ink_to_quads(m)[0])
    assert len(bx) == 1 and bx[0][1] > 35, bx


def test_detector_reports_what_it_dropped() -> None:
    m = text_mask(["word one"])
    cv2.rectangle(m, (500, 40), (530, 70), 255, 3)  # empty checkbox
    dropped: list = []
    dets = Detector().detect(np.zeros((400, 900, 3), np.uint8), m.astype(np.float32) / 255, dropped)
    assert len(dets) == 2
    assert any(r == "checkbox" and b[0] >= 495 for r, b in dropped), dropped


def test_line_cuts_find_gaps_between_lines_only() -> None:
    """Rows of ink per row -> a cut in each near-empty run between two line-tall inked runs; none inside
    a line, none at a dip thinner than a line from the edge."""
    line = np.full(20, 50.0)
    two_lines = np.concatenate([line, np.full(6, 2.0), line])
    cuts = line_cuts(two_lines, h_ref=20)
    assert len(cuts) == 1 and 20 <= cuts[0] < 26
    assert line_cuts(line, h_ref=20) == []
    edge_speck = np.concatenate([np.full(4, 50.0), np.zeros(6), line])  # a descender tail, not a line
    assert line_cuts(edge_speck, h_ref=20) == []


def test_lines_joined_by_a_loop_are_cut_into_words_per_line() -> None:
    """Big cursive joins lines (a loop from one line touches the next): the block is cut into its lines
    and each line grouped into words again, so no quad spans both lines."""
    m = text_mask(["alpha beta", "gamma delta"], pitch=70)
    cv2.ellipse(m, (95, 95), (18, 48), 0, -90, 90, 255, 3)  # a loop from 'alpha' down into 'gamma'
    merged, _, h = ink_to_quads(m, split_lines=False)
    assert any(b[3] - b[1] > 2.4 * h for b in boxes(merged))  # the premise: one quad holds both lines
    first_line, second_line = 60, 130  # baselines 70 and 140, letters ~25 px tall
    assert any(b[1] < first_line and b[3] > second_line for b in boxes(merged))
    quads, _, h = ink_to_quads(m)
    bx = boxes(quads)
    assert len(quads) >= 4 and not any(b[1] < first_line and b[3] > second_line for b in bx), bx
    assert any(b[3] < second_line - 20 for b in bx) and any(b[1] > first_line + 20 for b in bx)  # words on both lines


def test_a_block_of_drifting_lines_is_cut_along_its_drift() -> None:
    """Three lines that rise 4 degrees across a wide block fill every row of it with ink, so level
    rows find no gap between them; rows turned with the drift do, and the words come back per line,
    in the block's pixels."""
    block = np.zeros((300, 1100), np.uint8)
    for i in range(3):
        cv2.putText(block, "minimum anemone summer", (20, 80 + 52 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
        cv2.putText(block, "minimum anemone", (560, 80 + 52 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    block = cv2.warpAffine(block, cv2.getRotationMatrix2D((550, 150), 4.0, 1.0), (1100, 300), flags=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(block)
    quad = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]], np.float32)
    assert split_multiline(block, quad, 0.0, 26.0, GroupingConfig(multiline_tilts=())) is None  # the premise
    quads = split_multiline(block, quad, 0.0, 26.0)
    assert quads is not None and len(quads) == 12  # four words on each of three lines
    for q in quads:
        x0, y0 = np.floor(q.min(axis=0)).astype(int)
        x1, y1 = np.ceil(q.max(axis=0)).astype(int)
        assert y1 - y0 < 2 * 26 + 0.08 * (x1 - x0)  # one line tall (plus its own rise), not two
        inside = block[max(y0, 0):y1, max(x0, 0):x1]
        assert inside.mean() > 0.15 * 255  # each quad lies on its word's ink


def test_a_tall_stroke_through_the_lines_does_not_join_them() -> None:
    """A wavy stroke drawn down past two lines, close beside their words, overlaps both lines: grouped
    with them it makes one box across both; grouped alone it leaves each line's words their own
    boxes (and, a lone stroke, is dropped)."""
    m = np.zeros((300, 700), np.uint8)
    for i, (left, right) in enumerate([("plan the", "budget now"), ("review", "costs today")]):
        cv2.putText(m, left, (30, 90 + 80 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
        cv2.putText(m, right, (284, 90 + 80 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255, 3)
    ys = np.arange(60, 200)
    cv2.polylines(m, [np.stack([266 + 13 * np.sin(ys / 8.0), ys], 1).astype(np.int32)], False, 255, 3)
    first_line, second_line = 70, 150  # rows inside each line's letters

    def across(quads):
        return [b for b in boxes(quads) if b[1] < first_line + 30 and b[3] > second_line]

    together, _, h = ink_to_quads(m, GroupingConfig(alone_min_h=0))
    assert h == pytest.approx(25, abs=4) and across(together)  # the premise: a box spans both lines
    quads, _, _ = ink_to_quads(m)
    assert not across(quads), boxes(quads)
    assert sum(b[0] > 280 and b[3] < first_line + 40 for b in boxes(quads)) >= 2  # budget, now
    assert sum(b[0] > 280 and b[1] > first_line + 40 for b in boxes(quads)) >= 2  # costs, today


def small_print_page() -> np.ndarray:
    """Large writing (letters ~50 px) with a column of small print (letters ~12 px) beside it, as a
    letterhead beside a handwritten letter."""
    m = np.zeros((700, 1400), np.uint8)
    for i, line in enumerate(["Dear Mary", "we hope to come", "on Friday night"]):
        cv2.putText(m, line, (40, 200 + 150 * i), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 255, 6)
    for i, line in enumerate(["First Recording Secretary", "Mrs Frances Burns", "Saint Louis Michigan",
                              "Second Recording Secretary", "Mrs Isabelle Quinlin", "Galesburg Illinois"]):
        cv2.putText(m, line, (1000, 60 + 28 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
    return m


def test_small_print_beside_large_writing_is_found() -> None:
    """The page's H comes from the large writing; the print column is grouped again with its own H."""
    m = small_print_page()
    without, _, h = ink_to_quads(m, small_text=False)
    with_small, _, h_again = ink_to_quads(m)
    assert h == h_again and h > 30
    in_print = [b for b in boxes(with_small) if b[0] >= 990 and b[3] <= 230]
    assert not [b for b in boxes(without) if b[0] >= 990 and b[3] <= 230]
    # 14 words of print; a few may join or split, none may span two print lines
    assert 10 <= len(in_print) <= 18, in_print
    assert all(b[3] - b[1] < 25 for b in in_print), in_print
    large = [b for b in boxes(with_small) if b[0] < 990]
    assert len(large) == len(without)  # the large writing's words are unchanged


def test_small_print_pass_needs_enough_small_ink() -> None:
    """A few specks beside large writing are not small print: no extra words."""
    m = np.zeros((500, 1000), np.uint8)
    cv2.putText(m, "meeting notes", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 255, 6)
    for x in range(5):
        cv2.circle(m, (700 + 40 * x, 400), 3, 255, -1)
    assert len(ink_to_quads(m)[0]) == len(ink_to_quads(m, small_text=False)[0])
