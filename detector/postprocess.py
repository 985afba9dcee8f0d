"""Ink map -> word quadrilaterals, as small pure functions.

Steps (all at the ink map's working scale):
1. `extract_components`: connected ink components (outer contour, pixel area, hole area, contour
   length, from which `Components.thickness` gives each one's stroke width).
2. `reference_height`: the typical character height H of the page (page-scale components such as
   frames and coloured borders left out); `stroke_width`: the page's pen width.
3. `classify_components`: drop noise, straight strokes (underlines, arrows, frame sides, ruled
   lines), hollow frames and circles drawn around words, empty checkboxes, and solid blobs (magnets,
   tape, corners).
4. `dominant_angle`: the page's text direction, where projection profiles of the ink are sharpest.
5. `group_words`: in the text direction's frame, join components that share a line and are closer
   than the widest word gap (in units of H), then rejoin each such line piece at its own word gap
   (`line_join_gaps`: its median letter gap plus a margin, so slanted letters that overlap and
   widely spaced ones both work); small marks just above/below (dots, accents) join the component
   under them unless they already sit beside others on their own line (full stops, commas); then
   split each resulting group at gaps that are large for its own line.
6. Filters on the groups: list markers leading a word are stripped (`strip_leading_marks`); groups
   of thin parallel strokes are desk or paper texture (`is_grain`); groups of specks only (all far
   shorter than a letter) are dust or broken edges; a word of one component is dropped when it
   cannot be one (`is_lone_mark`: specks, dashes, arrows, bullets, stars, holes, magnets;
   `is_check_mark`; `is_stray_stroke`); lone strokes lined up along one line are pieces of an edge
   or rule (`line_fragments`). Ground truth and search ignore such marks (no word is punctuation
   or a symbol only).
7. `word_quad` / `order_quad`: a rectangle around the group's ink along the direction, within a few
   degrees of the page's, that hugs it best (`tightest_angle`), as a [4,2] quad clockwise from
   top-left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GroupingConfig:
    """Thresholds of the ink-derived detector, all relative to character height H where possible."""

    min_area: int = 6  # px at working scale: smaller components are noise
    min_area_h2: float = 0.015  # ... or smaller than this fraction of H^2
    line_min_len_h: float = 2.2  # straight strokes longer than this many H are removed ...
    line_max_linearity: float = 1.3  # ... when half the perimeter is at most this times their length
    frame_min_h: float = 1.3  # hollow shapes taller than this many H ...
    frame_min_hole: float = 0.35  # ... whose holes cover this share of their area are frames/circles
    blob_min_h: float = 1.6  # solid shapes larger than this many H ...
    blob_min_fill: float = 0.6  # ... filling this share of their rotated rectangle are blobs
    box_min_hole: float = 0.28  # square outlines (see _is_box) whose hole covers this share are empty checkboxes
    max_char_share: float = 0.25  # components taller than this share of the image are ignored for H
    h_recheck: float = 0.8  # H is re-estimated without frames and strokes when that makes it this much smaller
    max_h: float = 8.0  # components taller than this many H (drawings, page edges) are dropped
    v_overlap: float = 0.45  # share of the smaller height that must overlap to be on one line
    word_gap: float = 0.35  # join gap along the line, in units of H (or of the pair's smaller height, see gap_hmin),
    #     where a line has too few gaps to learn its own spacing (see line_min_gaps)
    gap_hmin: float = 0.8  # ... the gap unit is max(H, this times the smaller height): large writing keeps wider gaps
    word_gap_max: float = 0.5  # widest join gap in units (first pass: the line pieces whose own spacing is measured)
    word_gap_min: float = 0.25  # narrowest gap a line's spacing can make a word gap
    word_gap_over_median: float = 0.2  # a line's join gap is its median letter-to-next gap plus this many units
    line_min_gaps: int = 3  # a line piece needs this many gaps for its median to count ...
    letter_max_w: float = 1.0  # ... gaps after components at most this many H wide (letters, not cursive words)
    line_gap_split: float = 3.0  # split a group where a gap exceeds this times the line's median gap ...
    min_split_gap: float = 0.45  # ... and at least this many H of the line
    dot_max_h: float = 0.45  # marks shorter than this share of the line height may be dots/accents
    dot_max_dist: float = 0.2  # ... within this many line heights above or below (further away is the line
    #     above or below: the ascenders and descenders of close lines nearly touch)
    stray_min_len_h: float = 1.2  # lone strokes at least this many H long ...
    stray_min_elongation: float = 4.0  # ... this elongated ...
    stray_min_angle: float = 25.0  # ... and this many degrees off the text direction are dropped,
    stray_upright_deg: float = 15.0  # ... unless within this many degrees of upright and ...
    stray_upright_min_len_h: float = 1.8  # ... shorter than this many H (I, l, 1)
    speck_max_h: float = 0.4  # a word whose tallest component is shorter than this many H is specks (dust, a
    #     page edge or a faint rule broken up by the binarizer): no letter is that small beside its line
    lone_min_h: float = 0.45  # a lone component (a word of one piece) shorter than this many H ...
    lone_min_len: float = 1.0  # ... and not this many H long is a mark
    bar_min_elongation: float = 2.0  # a lone component this many times longer than tall ...
    bar_min_share: float = 0.6  # ... whose columns are one thin stroke on a common centre line for this share
    #     of its length is a dash, an arrow or a piece of an edge (no letter or digit looks like that)
    grain_min_parts: int = 3  # a word of at least this many components ...
    grain_min_elongation: float = 3.0  # ... whose ink is mostly single strokes this elongated ...
    grain_max_linearity: float = 1.4  # ... (half their contour at most this times their length) ...
    grain_max_thickness: float = 0.75  # ... and thinner than this share of the page's pen width ...
    grain_max_thickness_few: float = 0.5  # (... this share for words of fewer components, whose strokes
    grain_few_min_tilt: float = 25.0  # must also lean this many degrees from upright)
    grain_min_share: float = 0.6  # ... for this share of its ink is texture (wood grain, fibres, hatching)
    star_max_h: float = 1.6  # a compact mark at most this many H tall ...
    star_min_points: int = 5  # ... whose outline dips in between this many points ...
    star_min_depth: float = 0.08  # ... each dip this share of its size deep is a drawn star (a list bullet)
    check_max_len_h: float = 1.6  # a tick (see is_check_mark) is at most this many H wide, has no holes ...
    check_max_hole: float = 0.05  # ... (at most this share of holes) ...
    check_max_fill: float = 0.6  # ... covers at most this share of its convex hull ...
    check_poly_eps: float = 0.08  # ... whose outline simplifies (at this share of its length) to a triangle
    check_min_arm_ratio: float = 1.5  # ... with one arm this many times longer than the other
    frag_min_elongation: float = 3.0  # lone strokes this elongated ...
    frag_min_len_h: float = 0.5  # ... and at least this many H long, across the text direction, ...
    frag_min_partners: int = 2  # ... lined up with this many others (within frag_max_angle degrees, ...
    frag_max_angle: float = 4.0
    frag_max_offset: float = 1.0  # ... frag_max_offset pen widths off the line and frag_max_dist_h H away)
    frag_max_dist_h: float = 8.0  # are pieces of an edge or ruled line
    dash_max_h: float = 0.35  # marks flatter than this many H may be a bar from top to bottom (a dash)
    blob_lone_fill: float = 0.85  # a lone component filling this share of its rotated rectangle ...
    blob_lone_max_aspect: float = 2.0  # ... and at most this elongated is a dot, hole, magnet or bullet
    blob_round_fill: float = 0.75  # ... as is one filling this share of its rectangle ...
    blob_round_solidity: float = 0.95  # ... and this share of its convex hull (a filled disc) ...
    blob_round_max_h: float = 0.8  # ... at most this many H tall
    word_angle_dev: float = 10.0  # degrees a word's quad may turn from the page's text direction to hug its ink
    pad: float = 0.0  # padding added around each quad, in units of the word's height
    # Big cursive joins lines: a loop of one line touches the next line's ascenders, and a whole
    # paragraph becomes one "word". A quad taller than this many H (across the text) is cut into
    # lines where its rows hold little ink, and each line is grouped into words again.
    multiline_min_h: float = 2.4
    multiline_valley: float = 0.25  # a row with less ink than this share of the quad's inked rows (90th pct) is a gap
    multiline_min_band_h: float = 0.5  # a line between two cuts is at least this many H tall
    multiline_max_angle: float = 10.0  # degrees; more tilted text keeps its quads (rows would cut across lines)
    # Handwritten lines drift a few degrees across a wide block, enough to fill the gaps between them
    # in a row profile: the rows are also read turned by these angles (degrees), and the turn that
    # finds more cuts than the level rows is taken. bench/search_misses.py, stanford1905 tune: missed
    # queries 529 -> 517 of 1882; our val2+val3 pages 433 -> 432 of 2673
    multiline_tilts: tuple[float, ...] = (-1.5, 1.5, -3.0, 3.0, -4.5, 4.5)
    # A component taller than this many H across the text (an arc drawn through a note, a diagonal
    # annotation, a giant loop) overlaps every line it crosses, so grouping would join them all
    # into one "word": it is grouped alone (0: never). With the turned rows above, stanford1905 tune
    # misses 517 -> 499 (printed lines found 166 -> 181 of 235: a letterhead column the arc of a
    # note had joined), false hits on absent words 8.3% -> 8.8%; val2+val3 432 -> 432. Tune at 3.0:
    # 499, at 5.0: 505; 4 keeps big cursive capitals (2-3 H) in their lines
    alone_min_h: float = 4.0
    # Small print beside large writing (a letterhead above a handwritten letter, a printed label on a
    # whiteboard): H is set by the writing, so the print's letters fall under the size and speck
    # limits and are lost. Ink outside the words found, in components at most this many H tall, is
    # grouped again with its own H when ...
    small_text_max_h: float = 0.6
    small_text_min_components: int = 20  # ... there are at least this many such components ...
    small_text_max_ratio: float = 0.55  # ... and their own H is at most this share of the page's H;
    small_text_min_len_h: float = 2.5  # its words are kept when at least this many of their own H long


@dataclass
class Components:
    """Connected ink components at working scale (struct of arrays)."""

    contours: list[np.ndarray]  # each [N,2] float32 outer contour points (x, y)
    area: np.ndarray  # [n] float32 ink pixels
    hole_area: np.ndarray  # [n] float32 area of holes inside the outer contour
    bbox: np.ndarray  # [n,4] float32 x0, y0, x1, y1 (exclusive)
    perimeter: np.ndarray  # [n] float32 length of the outer contour plus the holes' contours

    def __len__(self) -> int:
        return len(self.contours)

    def subset(self, keep: np.ndarray) -> Components:
        idx = np.flatnonzero(keep)
        return Components(
            contours=[self.contours[i] for i in idx],
            area=self.area[idx],
            hole_area=self.hole_area[idx],
            bbox=self.bbox[idx],
            perimeter=self.perimeter[idx],
        )

    def thickness(self) -> np.ndarray:
        """[n] mean stroke width: ink area over half the contour length (a disc gives its radius)."""
        return 2.0 * self.area / np.maximum(self.perimeter, 1.0)


def extract_components(binary: np.ndarray, min_area: int = 6) -> Components:
    """Outer contours of the 8-connected components of `binary` [H,W] (bool or uint8)."""
    mask = (binary > 0).astype(np.uint8)  # [H,W]
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        z = np.zeros(0, np.float32)
        return Components([], z, z, np.zeros((0, 4), np.float32), z)
    hier = hierarchy[0]  # [m,4] next, prev, first_child, parent
    outer = np.flatnonzero(hier[:, 3] < 0)
    areas_all = np.array([cv2.contourArea(c) for c in contours], dtype=np.float32)
    perim_all = np.array([cv2.arcLength(c, True) for c in contours], dtype=np.float32)
    holes = np.zeros(len(contours), np.float32)
    hole_perim = np.zeros(len(contours), np.float32)
    inner = np.flatnonzero(hier[:, 3] >= 0)
    np.add.at(holes, hier[inner, 3], areas_all[inner])
    np.add.at(hole_perim, hier[inner, 3], perim_all[inner])
    out_contours, area, hole_area, bbox, perimeter = [], [], [], [], []
    for i in outer:
        c = contours[i]
        x, y, w, h = cv2.boundingRect(c)
        # filled contour area minus holes approximates the ink pixel count; +perimeter/2 for the
        # pixel-centre contour convention (a 1-px line has contour area 0)
        ink = areas_all[i] - holes[i] + 0.5 * perim_all[i]
        if ink < min_area:
            continue
        out_contours.append(c.reshape(-1, 2).astype(np.float32))
        area.append(ink)
        hole_area.append(holes[i])
        bbox.append((x, y, x + w, y + h))
        perimeter.append(perim_all[i] + hole_perim[i])
    return Components(
        contours=out_contours,
        area=np.asarray(area, np.float32),
        hole_area=np.asarray(hole_area, np.float32),
        bbox=np.asarray(bbox, np.float32).reshape(-1, 4),
        perimeter=np.asarray(perimeter, np.float32),
    )


def reference_height(heights: np.ndarray, areas: np.ndarray, max_height: float | None = None) -> float:
    """Typical character height: area-weighted median height of components, ignoring specks and
    components taller than `max_height` (page-scale structures: a frame, a coloured border, a page
    edge; one of them can outweigh all the letters)."""
    if max_height is not None and (heights <= max_height).any():
        heights, areas = heights[heights <= max_height], areas[heights <= max_height]
    if len(heights) == 0:
        return 10.0
    big = areas >= np.percentile(areas, 25)
    h, a = heights[big], areas[big]
    order = np.argsort(h)
    cum = np.cumsum(a[order])
    return float(max(3.0, h[order][np.searchsorted(cum, cum[-1] / 2)]))


def classify_components(comps: Components, h_ref: float, cfg: GroupingConfig = GroupingConfig(),
                        reasons: dict[int, str] | None = None) -> np.ndarray:
    """[n] bool: True for components that may be text (not noise, strokes, frames, blobs); `reasons`,
    when given, receives why each dropped component was dropped (for error analysis)."""
    n = len(comps)
    keep = np.ones(n, bool)
    if n == 0:
        return keep
    why = reasons if reasons is not None else {}
    w = comps.bbox[:, 2] - comps.bbox[:, 0]
    h = comps.bbox[:, 3] - comps.bbox[:, 1]
    keep &= comps.area >= max(cfg.min_area, cfg.min_area_h2 * h_ref * h_ref)
    keep &= np.maximum(w, h) <= cfg.max_h * h_ref * 2.5  # giant drawings, page edges
    keep &= h <= cfg.max_h * h_ref
    why.update((int(i), "small-or-huge") for i in np.flatnonzero(~keep))
    centres = (comps.bbox[:, :2] + comps.bbox[:, 2:]) / 2
    for i in np.flatnonzero(keep):
        c = comps.contours[i]
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        long_side, short_side = max(rw, rh), min(rw, rh)
        half_perim = 0.5 * cv2.arcLength(c.reshape(-1, 1, 2), True)
        if long_side > cfg.line_min_len_h * h_ref and half_perim <= cfg.line_max_linearity * long_side:
            keep[i] = False  # a straight stroke
            why[int(i)] = "stroke"
            continue
        outer_area = comps.area[i] + comps.hole_area[i]
        if h[i] > cfg.frame_min_h * h_ref and comps.hole_area[i] >= cfg.frame_min_hole * outer_area:
            x0, y0, x1, y1 = comps.bbox[i]
            inside = (centres[:, 0] > x0) & (centres[:, 0] < x1) & (centres[:, 1] > y0) & (centres[:, 1] < y1)
            inside[i] = False
            if inside.any():
                keep[i] = False  # a frame or circle drawn around other ink
                why[int(i)] = "frame"
                continue
        if comps.hole_area[i] >= cfg.box_min_hole * outer_area and _is_box(c):
            keep[i] = False  # an empty checkbox
            why[int(i)] = "checkbox"
            continue
        if (
            short_side > cfg.blob_min_h * h_ref
            and comps.area[i] >= cfg.blob_min_fill * max(rw * rh, 1.0)
        ):
            keep[i] = False  # a solid blob
            why[int(i)] = "blob"
    return keep


def _is_box(contour: np.ndarray, min_rect_fill: float = 0.84) -> bool:
    """True when the contour [N,2] simplifies to a convex quadrilateral with near-square sides and
    sharp corners: it fills at least `min_rect_fill` of its rotated bounding rectangle (round
    letters such as o, a, d, O, D fill about 0.7-0.8)."""
    c = contour.reshape(-1, 1, 2)
    approx = cv2.approxPolyDP(c, 0.04 * cv2.arcLength(c, True), True)
    if len(approx) != 4 or not cv2.isContourConvex(approx):
        return False
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    if cv2.contourArea(c) < min_rect_fill * rw * rh:
        return False
    return 0.6 <= rw / max(rh, 1e-3) <= 1.66


def dominant_angle(points: np.ndarray, bin_px: float, max_deg: float = 40.0) -> float:
    """Text direction in radians (image y down, so positive = clockwise) by projection profiles.

    Ink points [N,2] projected on the normal of the right angle pile up in narrow bands (the
    lines), so the histogram of the projection is sharpest (largest sum of squares) there. Coarse
    1-degree search, then 0.2-degree refinement.
    """
    if len(points) < 10:
        return 0.0
    pts = points.astype(np.float32)
    pts = pts - pts.mean(axis=0)

    def sharpness(deg: np.ndarray) -> np.ndarray:
        rad = np.radians(deg).astype(np.float32)
        v = -pts[:, :1] * np.sin(rad)[None] + pts[:, 1:] * np.cos(rad)[None]  # [N,A]
        bins = np.floor(v / bin_px).astype(np.int64)
        bins -= bins.min(axis=0, keepdims=True)
        n_bins = int(bins.max()) + 1
        offset = np.arange(len(deg)) * n_bins
        counts = np.bincount((bins + offset[None]).ravel(), minlength=n_bins * len(deg))
        return (counts.reshape(len(deg), n_bins).astype(np.float64) ** 2).sum(axis=1)

    coarse = np.arange(-max_deg, max_deg + 0.5, 1.0)
    score = sharpness(coarse)
    best = float(coarse[int(np.argmax(score))])
    fine = np.arange(best - 1.0, best + 1.01, 0.2)
    return math.radians(float(fine[int(np.argmax(sharpness(fine)))]))


def rotated_extents(contours: list[np.ndarray], angle: float) -> np.ndarray:
    """[n,4] u0, u1, v0, v1: each contour projected on the text direction u and its normal v."""
    ca, sa = math.cos(angle), math.sin(angle)
    rot = np.array([[ca, -sa], [sa, ca]], np.float32)  # columns: u, v axes
    out = np.zeros((len(contours), 4), np.float32)
    for i, c in enumerate(contours):
        p = c @ rot  # [N,2] (u, v)
        out[i] = (p[:, 0].min(), p[:, 0].max() + 1.0, p[:, 1].min(), p[:, 1].max() + 1.0)
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return list(out.values())


def _pairs(ext: np.ndarray, h_ref: float, cfg: GroupingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate joins (i, j, gap) between components with extents [n,4] (u0,u1,v0,v1), both orders.

    The gap along u is returned in units of max(H, gap_hmin * the smaller height) (letter and word
    gaps separate best in character heights; titles keep wider gaps; a tall component, a stray
    stroke or a page edge, cannot stretch it), and -inf for a dot or accent over or under a letter.
    Pairs on one line are candidates up to `word_gap_max` units; `group_words` narrows that per line.
    """
    n = len(ext)
    u0, u1, v0, v1 = ext.T
    hv = v1 - v0
    pi, pj, pg = [], [], []
    for start in range(0, n, 512):
        s = slice(start, start + 512)
        ov = np.minimum(v1[s, None], v1[None, :]) - np.maximum(v0[s, None], v0[None, :])  # [b,n]
        hmin = np.minimum(hv[s, None], hv[None, :])
        ugap = np.maximum(u0[s, None], u0[None, :]) - np.minimum(u1[s, None], u1[None, :])  # <0: overlap
        gap = ugap / np.maximum(h_ref, cfg.gap_hmin * hmin)
        same_line = (ov >= cfg.v_overlap * hmin) & (gap <= cfg.word_gap_max)
        # dots and accents: a short mark above or below a taller one, overlapping it along u; a mark
        # already beside others on its own line (a full stop, a comma) stays with them rather than
        # joining the line below or above
        vgap = -ov
        hu = u1 - u0
        small = (hv[s, None] <= cfg.dot_max_h * hv[None, :]) & (hu[s, None] <= cfg.dot_max_h * hv[None, :])
        dot = small & (ugap < 0) & (vgap <= cfg.dot_max_dist * hv[None, :]) & (vgap > -hmin)
        beside = same_line & (gap <= cfg.word_gap)
        beside[np.arange(beside.shape[0]), np.arange(start, start + beside.shape[0])] = False
        dot &= ~beside.any(axis=1, keepdims=True)
        ok = same_line | dot
        bi, bj = np.nonzero(ok)
        g = np.where(dot[bi, bj], -np.inf, gap[bi, bj])
        bi = bi + start
        keep = bi != bj
        pi.append(bi[keep])
        pj.append(bj[keep])
        pg.append(g[keep])
    if not pi:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32)
    return np.concatenate(pi), np.concatenate(pj), np.concatenate(pg).astype(np.float32)


def split_at_gaps(ext: np.ndarray, members: list[int], cfg: GroupingConfig) -> list[list[int]]:
    """Split one joined group where a gap along u is large for that group's own spacing."""
    if len(members) < 3:
        return [members]
    sub = ext[members]
    order = np.argsort(sub[:, 0])
    u0, u1 = sub[order, 0], sub[order, 1]
    reach = np.maximum.accumulate(u1)
    gaps = u0[1:] - reach[:-1]  # [m-1] gap before element k+1 (<=0: overlapping)
    h_line = float(np.median(sub[:, 3] - sub[:, 2]))
    positive = gaps[gaps > 0]
    if len(positive) < 2:
        return [members]
    thr = max(cfg.line_gap_split * float(np.median(positive)), cfg.min_split_gap * h_line)
    cuts = np.flatnonzero(gaps > thr) + 1
    if len(cuts) == 0:
        return [members]
    idx = np.asarray(members)[order]
    return [list(map(int, part)) for part in np.split(idx, cuts)]


def line_join_gaps(ext: np.ndarray, pi: np.ndarray, pj: np.ndarray, gap: np.ndarray, groups: list[list[int]],
                   h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> np.ndarray:
    """[n] the join gap (in units, see `_pairs`) for each component's line piece.

    Handwriting sets its own letter spacing: italic or cursive letters overlap along the line
    (negative gaps) and their words stand a fraction of H apart, print-like letters stand apart and
    so do their words, more. Each piece joined at `word_gap_max` is mostly one line, so the median
    gap from a component to its right-hand neighbour is its letter spacing, and a word gap is
    `word_gap_over_median` units above it (within `word_gap_min`..`word_gap_max`). Pieces with
    fewer than `line_min_gaps` gaps keep the page-wide `word_gap`.
    """
    n = len(ext)
    nxt = np.full(n, np.inf, np.float32)  # gap to the nearest component on the right, same line
    centre = (ext[:, 0] + ext[:, 1]) / 2
    # only letter-sized components show the letter spacing: after a cursive word (one wide
    # component) comes a word gap
    letter = (ext[:, 1] - ext[:, 0]) <= cfg.letter_max_w * h_ref
    right = np.isfinite(gap) & (centre[pj] > centre[pi]) & letter[pi]
    np.minimum.at(nxt, pi[right], gap[right])
    thr = np.full(n, cfg.word_gap, np.float32)
    for g in groups:
        own = nxt[g]
        own = own[np.isfinite(own)]
        if len(own) >= cfg.line_min_gaps:
            thr[g] = np.clip(float(np.median(own)) + cfg.word_gap_over_median, cfg.word_gap_min, cfg.word_gap_max)
    return thr


def group_words_apart(ext: np.ndarray, cfg: GroupingConfig, h_ref: float) -> list[list[int]]:
    """`group_words`, with components taller than `cfg.alone_min_h` H across the text each a group of
    its own."""
    tall = (ext[:, 3] - ext[:, 2]) > cfg.alone_min_h * h_ref if cfg.alone_min_h > 0 else np.zeros(len(ext), bool)
    if not tall.any():
        return group_words(ext, cfg, h_ref)
    rest = np.flatnonzero(~tall)
    groups = [[int(rest[i]) for i in g] for g in group_words(ext[rest], cfg, h_ref)]
    return groups + [[int(i)] for i in np.flatnonzero(tall)]


def group_words(ext: np.ndarray, cfg: GroupingConfig = GroupingConfig(), h_ref: float | None = None) -> list[list[int]]:
    """Indices of components forming each word, from rotated extents [n,4] (u0,u1,v0,v1): line
    pieces joined at the widest word gap, then rejoined at each piece's own word gap
    (`line_join_gaps`), then split at gaps large for the word's own spacing (`split_at_gaps`)."""
    n = len(ext)
    if n == 0:
        return []
    if h_ref is None:
        h_ref = float(np.median(ext[:, 3] - ext[:, 2]))
    pi, pj, gap = _pairs(ext, h_ref, cfg)
    pieces = _UnionFind(n)
    for i, j in zip(pi, pj):
        pieces.union(int(i), int(j))
    thr = line_join_gaps(ext, pi, pj, gap, pieces.groups(), h_ref, cfg)
    uf = _UnionFind(n)
    for i, j, g in zip(pi, pj, gap):
        if g <= thr[i]:
            uf.union(int(i), int(j))
    words: list[list[int]] = []
    for g in uf.groups():
        words.extend(split_at_gaps(ext, g, cfg))
    return words


def order_quad(pts: np.ndarray) -> np.ndarray:
    """[4,2] float32 corners ordered clockwise (in image coordinates) starting at the top-left."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise on screen (y down): increasing angle
    # top-left = the corner of the top edge further left: smallest x+y among the two highest
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0).astype(np.float32)


def word_quad(points: np.ndarray, angle: float, pad: float = 0.0) -> np.ndarray:
    """Rectangle along `angle` around `points` [N,2], as an ordered [4,2] quad; pad in word heights."""
    ca, sa = math.cos(angle), math.sin(angle)
    u = points[:, 0] * ca + points[:, 1] * sa
    v = -points[:, 0] * sa + points[:, 1] * ca
    u0, u1, v0, v1 = u.min(), u.max() + 1.0, v.min(), v.max() + 1.0
    p = pad * (v1 - v0)
    u0, u1, v0, v1 = u0 - p, u1 + p, v0 - p, v1 + p
    corners_uv = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], np.float32)
    x = corners_uv[:, 0] * ca - corners_uv[:, 1] * sa
    y = corners_uv[:, 0] * sa + corners_uv[:, 1] * ca
    return order_quad(np.stack([x, y], axis=1))


def tightest_angle(points: np.ndarray, angle: float, max_dev_deg: float, step_deg: float = 1.0) -> float:
    """The angle within `max_dev_deg` of `angle` whose rectangle around `points` [N,2] is smallest:
    words drift from the page's text direction (handwriting, perspective), and a rectangle along
    their own direction hugs the ink."""
    if max_dev_deg <= 0 or len(points) < 3:
        return angle
    devs = np.radians(np.arange(-max_dev_deg, max_dev_deg + 1e-6, step_deg)) + angle  # [A]
    ca, sa = np.cos(devs).astype(np.float32), np.sin(devs).astype(np.float32)
    u = points[:, :1] * ca[None] + points[:, 1:] * sa[None]  # [N,A]
    v = -points[:, :1] * sa[None] + points[:, 1:] * ca[None]
    area = (np.ptp(u, axis=0) + 1.0) * (np.ptp(v, axis=0) + 1.0)
    # prefer the page angle on ties (near-symmetric marks, single letters)
    area[len(devs) // 2] *= 0.98
    return float(devs[int(np.argmin(area))])


def is_stray_stroke(contour: np.ndarray, angle: float, h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A lone thin stroke running across the text direction (wood grain, creases, page edges)."""
    (_, _), (rw, rh), rect_deg = cv2.minAreaRect(contour)
    long_side, short_side = max(rw, rh), min(rw, rh)
    if long_side < cfg.stray_min_len_h * h_ref or long_side < cfg.stray_min_elongation * max(short_side, 1.0):
        return False
    direction = rect_deg if rw >= rh else rect_deg + 90.0  # degrees of the long side
    diff = abs((direction - math.degrees(angle) + 90.0) % 180.0 - 90.0)
    if diff <= cfg.stray_min_angle:
        return False
    # an upright stroke up to a capital's height may be I, l or 1
    return diff < 90.0 - cfg.stray_upright_deg or long_side >= cfg.stray_upright_min_len_h * h_ref


def stroke_width(comps: Components) -> float:
    """The page's pen width: area-weighted median of the components' thickness."""
    if len(comps) == 0:
        return 1.0
    t = comps.thickness()
    order = np.argsort(t)
    cum = np.cumsum(comps.area[order])
    return float(max(1.0, t[order][np.searchsorted(cum, cum[-1] / 2)]))


def bar_share(contour: np.ndarray, angle: float, max_thick: float, tol: float) -> float:
    """Share [0,1] of the contour's length along `angle` covered by its longest stretch where the ink
    is one stroke at most `max_thick` px thick, centred within `tol` px of a common line (1 for a dash
    or a straight bar, most of an arrow; low for letters, whose columns cross strokes at varying
    heights or span the letter's height, and for underlined words)."""
    ca, sa = math.cos(angle), math.sin(angle)
    u = contour[:, 0] * ca + contour[:, 1] * sa
    v = -contour[:, 0] * sa + contour[:, 1] * ca
    u = u - u.min()
    v = v - v.min()
    w, h = int(math.ceil(u.max())) + 1, int(math.ceil(v.max())) + 1
    canvas = np.zeros((h, w), np.uint8)  # [h,w] the filled outer contour in the text frame
    cv2.fillPoly(canvas, [np.round(np.stack([u, v], 1)).astype(np.int32).reshape(-1, 1, 2)], 1)
    cols = canvas.any(axis=0)
    if not cols.any():
        return 0.0
    rows = np.arange(h, dtype=np.float32)[:, None]
    top = np.where(canvas, rows, np.inf).min(axis=0)[cols]  # [c] first ink row per column
    bottom = np.where(canvas, rows, -np.inf).max(axis=0)[cols]
    thin = bottom - top + 1 <= max_thick + 1
    if not thin.any():
        return 0.0
    centre = (top + bottom) / 2
    on_line = thin & (np.abs(centre - np.median(centre[thin])) <= tol)
    # the longest unbroken stretch: an arrow's shaft or a dash, not an underline on both sides of a word
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on_line.astype(np.int8), [0]])))
    runs = edges[1::2] - edges[::2]
    return float(runs.max() / len(on_line)) if len(runs) else 0.0


def is_bar_or_blob(comps: Components, i: int, ext: np.ndarray, angle: float, h_ref: float, sw: float,
                   cfg: GroupingConfig = GroupingConfig(), blobs: bool = True) -> bool:
    """A horizontal bar (dash, arrow, a piece of a paper or board edge) or a solid blob (bullet,
    punched hole, magnet): shapes no letter or digit has."""
    u0, u1, v0, v1 = ext[i]
    length, height = u1 - u0, v1 - v0
    # thin: within 2 of the page's pen widths and 1.6 of the mark's own stroke width, and, unless the
    # mark is as flat as a dash, well under its height (a small word in a broad or smudged pen is a
    # few pen widths tall, but its columns span its whole height)
    own = float(comps.thickness()[i])
    max_thick = min(2.0 * sw, 1.6 * own)
    if height > cfg.dash_max_h * h_ref:
        max_thick = min(max_thick, 0.6 * height)
    if (length >= cfg.bar_min_elongation * height
            and bar_share(comps.contours[i], angle, max_thick, sw) >= cfg.bar_min_share):
        return True
    if not blobs:
        return False
    c = comps.contours[i]
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    if max(rw, rh) > cfg.blob_lone_max_aspect * max(min(rw, rh), 1.0):
        return False
    rect = max(rw * rh, 1.0)
    if comps.area[i] >= cfg.blob_lone_fill * rect:
        return True  # a filled square or rectangle
    # a filled disc or oval (fills pi/4 of its rectangle and all of its convex hull), smaller than
    # capitals: larger ones may be a blurred bold letter
    return bool(height <= cfg.blob_round_max_h * h_ref
                and comps.area[i] >= cfg.blob_round_fill * rect
                and comps.area[i] >= cfg.blob_round_solidity * cv2.contourArea(cv2.convexHull(c.reshape(-1, 1, 2))))


def is_star(contour: np.ndarray, h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A drawn star (a list bullet): compact, with `star_min_points` or more deep dips between the
    points of its outline. Compact letters have at most four (W, M, X, K); '*' and '#' are no words."""
    x, y, w, h = cv2.boundingRect(contour.astype(np.int32))
    if h > cfg.star_max_h * h_ref or max(w, h) > 1.5 * max(min(w, h), 1):
        return False
    c = contour.astype(np.int32).reshape(-1, 1, 2)
    if len(c) < 10:
        return False
    hull = cv2.convexHull(c, returnPoints=False)
    if len(hull) < 4:
        return False
    try:
        defects = cv2.convexityDefects(c, hull)
    except cv2.error:  # self-intersecting simplified contours
        return False
    if defects is None:
        return False
    depth = defects[:, 0, 3] / 256.0  # fixed point, 8 fractional bits
    return int((depth >= cfg.star_min_depth * max(w, h)).sum()) >= cfg.star_min_points


def is_lone_mark(comps: Components, i: int, ext: np.ndarray, angle: float, h_ref: float, sw: float,
                 cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A component that forms a word on its own but cannot be one: too short for a letter (dots,
    specks, fragments of faint strokes), or a bar or blob (`is_bar_or_blob`). Ground truth and
    search ignore such marks."""
    if ext[i, 3] - ext[i, 2] < cfg.lone_min_h * h_ref and ext[i, 1] - ext[i, 0] < cfg.lone_min_len * h_ref:
        return True
    if is_star(comps.contours[i], h_ref, cfg):
        return True
    return is_bar_or_blob(comps, i, ext, angle, h_ref, sw, cfg)


def is_check_mark(comps: Components, i: int, ext: np.ndarray, angle: float, h_ref: float,
                  cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A lone tick (v-shaped stroke open at the top, at most a letter or two wide): its hull is a
    triangle with one corner at the bottom and arms of unequal length, its ink covers little of the
    hull and none of the hull's top side. A, L, 7 and 4 have other corners or a closed top; v and V
    have equal arms."""
    if ext[i, 1] - ext[i, 0] > cfg.check_max_len_h * h_ref:
        return False  # a cursive word can have a tick's outline
    if comps.hole_area[i] > cfg.check_max_hole * (comps.area[i] + comps.hole_area[i]):
        return False
    ca, sa = math.cos(angle), math.sin(angle)
    c = comps.contours[i]
    uv = np.stack([c[:, 0] * ca + c[:, 1] * sa, -c[:, 0] * sa + c[:, 1] * ca], 1).astype(np.float32)  # [N,2]
    hull = cv2.convexHull(uv.reshape(-1, 1, 2))
    hull_area = cv2.contourArea(hull)
    if hull_area <= 0 or comps.area[i] > cfg.check_max_fill * hull_area:
        return False
    tri = cv2.approxPolyDP(hull, cfg.check_poly_eps * cv2.arcLength(hull, True), True).reshape(-1, 2)
    if len(tri) != 3:
        return False
    order = np.argsort(tri[:, 1])  # by v (down)
    bottom, tops = tri[order[2]], tri[order[:2]]
    height = float(uv[:, 1].max() - uv[:, 1].min())
    if bottom[1] - tops[:, 1].max() < 0.3 * height:
        return False
    # two arms from the bottom corner and nothing else (a cursive word has many more strokes), one
    # clearly longer than the other (a v, a word in some languages, is symmetric)
    arm = np.linalg.norm(tops - bottom[None], axis=1)  # [2]
    if 0.5 * comps.perimeter[i] > cfg.line_max_linearity * float(arm.sum()):
        return False
    if arm.max() < cfg.check_min_arm_ratio * arm.min():
        return False
    # the top side of the triangle runs over empty paper (a 7 or a T has a bar there)
    poly = uv.reshape(-1, 1, 2)
    samples = [tops[0] + t * (tops[1] - tops[0]) for t in np.linspace(0.2, 0.8, 7)]
    inked = sum(cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in samples)
    return inked <= 2


def line_fragments(lone: list[int], comps: Components, angle: float, h_ref: float, sw: float,
                   cfg: GroupingConfig = GroupingConfig()) -> set[int]:
    """Lone strokes across the text direction that line up with at least `frag_min_partners` others:
    pieces of one straight line broken by the binarizer (a page or board edge, a margin rule)."""
    cand, centre, direction = [], [], []
    for i in lone:
        (cx, cy), (rw, rh), deg = cv2.minAreaRect(comps.contours[i])
        long_side, short_side = max(rw, rh), min(rw, rh)
        if long_side < cfg.frag_min_elongation * max(short_side, 1.0) or long_side < cfg.frag_min_len_h * h_ref:
            continue
        d = math.radians(deg if rw >= rh else deg + 90.0)
        off = abs((math.degrees(d - angle) + 90.0) % 180.0 - 90.0)
        if off < 45.0:
            continue  # along the text direction: may be a cursive word on a line with others
        cand.append(i)
        centre.append((cx, cy))
        direction.append((math.cos(d), math.sin(d)))
    if len(cand) <= cfg.frag_min_partners:
        return set()
    p = np.asarray(centre, np.float32)  # [k,2]
    e = np.asarray(direction, np.float32)  # [k,2] unit
    delta = p[None, :, :] - p[:, None, :]  # [k,k,2] from i to j
    along = np.abs((delta * e[:, None, :]).sum(-1))
    across = np.abs(delta[..., 0] * e[:, None, 1] - delta[..., 1] * e[:, None, 0])
    parallel = np.abs((e[:, None, :] * e[None, :, :]).sum(-1)) >= math.cos(math.radians(cfg.frag_max_angle))
    ok = parallel & (across <= max(1.5, cfg.frag_max_offset * sw)) & (along <= cfg.frag_max_dist_h * h_ref)
    np.fill_diagonal(ok, False)
    return {cand[k] for k in np.flatnonzero(ok.sum(axis=1) >= cfg.frag_min_partners)}


def is_grain(members: list[int], comps: Components, angle: float, sw: float,
             cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A group made mostly of short single strokes, elongated and thinner than the page's pen: the
    texture of a wooden desk or of paper fibres, not writing (letters are compact or branched, and
    as thick as the pen; a cursive word is one long branched component)."""
    thickness = comps.thickness()[members]
    area = comps.area[members]
    # a lone stroke or a pair may be a letter (l, I, 1) in a finer pen than the rest of the page:
    # there only much thinner strokes that are not upright count
    few = len(members) < cfg.grain_min_parts
    max_thickness = cfg.grain_max_thickness_few if few else cfg.grain_max_thickness
    grain = 0.0
    for k, i in enumerate(members):
        if thickness[k] > max_thickness * sw:
            continue
        (_, _), (rw, rh), deg = cv2.minAreaRect(comps.contours[i])
        long_side = max(rw, rh)
        if long_side < cfg.grain_min_elongation * max(min(rw, rh), 1.0):
            continue
        if few:
            direction = deg if rw >= rh else deg + 90.0
            off_normal = abs((direction - math.degrees(angle)) % 180.0 - 90.0)
            if off_normal < cfg.grain_few_min_tilt:
                continue
        if 0.5 * comps.perimeter[i] <= cfg.grain_max_linearity * long_side:  # one stroke, no branches
            grain += area[k]
    return grain >= cfg.grain_min_share * float(area.sum())


def strip_leading_marks(members: list[int], comps: Components, ext: np.ndarray, angle: float, h_ref: float, sw: float,
                        cfg: GroupingConfig = GroupingConfig()) -> list[int]:
    """Drop dashes and arrows that start a word (list markers written close to the text); a word's
    own punctuation at its end, or hyphens inside it, stay. Blobs are kept here: a smudged or bold
    first letter looks like one."""
    order = sorted(members, key=lambda k: ext[k, 0])
    while (len(order) > 1 and ext[order[0], 1] <= ext[order[1], 0]
           and is_bar_or_blob(comps, order[0], ext, angle, h_ref, sw, cfg, blobs=False)):
        order = order[1:]
    return order


def ink_to_quads(
    binary: np.ndarray, cfg: GroupingConfig = GroupingConfig(), dropped: list[tuple[str, np.ndarray]] | None = None,
    split_lines: bool = True, h_given: float | None = None, small_text: bool = True,
) -> tuple[list[np.ndarray], float, float]:
    """Binary ink [H,W] -> (word quads [4,2] at the same scale, text angle in radians, H).

    `dropped`, when given, receives (reason, [4] x0,y0,x1,y1 box) for each component or word left
    out, for error analysis. `h_given`: the character height H, when known (a strip cut from a
    page, too small to estimate it)."""
    comps = extract_components(binary, cfg.min_area)
    if len(comps) == 0:
        return [], 0.0, 0.0
    heights = comps.bbox[:, 3] - comps.bbox[:, 1]
    if h_given is not None:
        h_ref = h_given
        keep = classify_components(comps, h_ref, cfg)
    else:
        h_ref = reference_height(heights, comps.area, cfg.max_char_share * binary.shape[0])
        keep = classify_components(comps, h_ref, cfg)
        # frames, boxes and long strokes can outweigh the letters in the first estimate; once they are
        # known, H is re-estimated on what may be text, and the classification redone with it
        h_text = reference_height(heights[keep], comps.area[keep], cfg.max_char_share * binary.shape[0])
        if keep.any() and h_text < cfg.h_recheck * h_ref:
            h_ref = h_text
            keep = classify_components(comps, h_ref, cfg)
    if dropped is not None:
        reasons: dict[int, str] = {}
        classify_components(comps, h_ref, cfg, reasons)
        dropped.extend((r, comps.bbox[i].copy()) for i, r in reasons.items())
    comps = comps.subset(keep)
    if len(comps) == 0:
        return [], 0.0, h_ref
    points = np.concatenate(comps.contours)
    if len(points) > 40_000:  # enough for the profile; keeps it fast on dense pages
        points = points[:: len(points) // 40_000 + 1]
    angle = dominant_angle(points, bin_px=max(1.0, h_ref / 4))
    ext = rotated_extents(comps.contours, angle)
    sw = stroke_width(comps)
    quads = []
    words = []

    def drop(reason: str, members: list[int]) -> None:
        if dropped is not None:
            b = comps.bbox[members]
            dropped.append((reason, np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])))

    for members in group_words_apart(ext, cfg, h_ref):
        members = strip_leading_marks(members, comps, ext, angle, h_ref, sw, cfg)
        if is_grain(members, comps, angle, sw, cfg):
            drop("grain", members)
            continue
        if float((ext[members, 3] - ext[members, 2]).max()) < cfg.speck_max_h * h_ref:
            drop("specks", members)
            continue
        if len(members) == 1:
            i = members[0]
            if is_lone_mark(comps, i, ext, angle, h_ref, sw, cfg):
                drop("lone-mark", members)
                continue
            if is_check_mark(comps, i, ext, angle, h_ref, cfg):
                drop("check", members)
                continue
            if is_stray_stroke(comps.contours[i], angle, h_ref, cfg):
                drop("stray", members)
                continue
        words.append(members)
    fragments = line_fragments([w[0] for w in words if len(w) == 1], comps, angle, h_ref, sw, cfg)
    for members in words:
        if len(members) == 1 and members[0] in fragments:
            drop("fragment", members)
            continue
        pts = np.concatenate([comps.contours[i] for i in members])
        pts = cv2.convexHull(pts).reshape(-1, 2)  # same extents in every direction, far fewer points
        quad = word_quad(pts, tightest_angle(pts, angle, cfg.word_angle_dev), cfg.pad)
        # the lines of a block are grouped on their own ink, once: a line does not split again
        lines = split_multiline(binary, quad, angle, h_ref, cfg) if split_lines else None
        quads.extend(lines if lines else [quad])
    if small_text and h_given is None:
        quads.extend(small_text_quads(binary, quads, h_ref, cfg, dropped, split_lines))
    return quads, angle, h_ref


def small_text_quads(binary: np.ndarray, quads: list[np.ndarray], h_ref: float, cfg: GroupingConfig,
                     dropped: list[tuple[str, np.ndarray]] | None = None,
                     split_lines: bool = True) -> list[np.ndarray]:
    """Word quads of small print that the page-scale pass left out (see GroupingConfig.small_text_*):
    the ink outside `quads`, in components at most small_text_max_h H tall, grouped with its own H."""
    residual = (binary > 0).astype(np.uint8)  # [H,W]
    if quads:
        cv2.fillPoly(residual, [np.round(q).astype(np.int32) for q in quads], 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(residual, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    areas = stats[1:, cv2.CC_STAT_AREA]
    small = (heights <= cfg.small_text_max_h * h_ref) & (areas >= cfg.min_area)
    if np.count_nonzero(small) < cfg.small_text_min_components:
        return []
    h_small = reference_height(heights[small].astype(np.float32), areas[small].astype(np.float32))
    if h_small > cfg.small_text_max_ratio * h_ref:
        return []
    keep = np.concatenate([[0], small.astype(np.uint8)])  # label 0 is the background
    small_ink = keep[labels]  # [H,W] the small components alone
    found, _, _ = ink_to_quads(small_ink, cfg, dropped, split_lines, h_given=h_small, small_text=False)
    out = []
    for q in found:
        (_, _), (w, h), _ = cv2.minAreaRect(q.astype(np.float32))
        if max(w, h) >= cfg.small_text_min_len_h * h_small:
            out.append(q)
        elif dropped is not None:
            dropped.append(("small-text-short", np.concatenate([q.min(axis=0), q.max(axis=0)])))
    return out


def line_cuts(profile: np.ndarray, h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> list[int]:
    """Rows [N] of ink per row -> rows where a block of several text lines is cut into lines: the
    deepest row of each run of near-empty rows that has at least a line's worth of ink on both sides."""
    k = max(1, round(h_ref / 4))
    smooth = np.convolve(profile.astype(np.float64), np.ones(k) / k, mode="same")
    inked = smooth[smooth > 0]
    if len(inked) == 0:
        return []
    gap = smooth < cfg.multiline_valley * np.percentile(inked, 90)
    min_band = cfg.multiline_min_band_h * h_ref
    cuts, last, row = [], 0, 0
    n = len(smooth)
    while row < n:
        if not gap[row]:
            row += 1
            continue
        end = row
        while end < n and gap[end]:
            end += 1
        cut = row + int(np.argmin(smooth[row:end]))
        ink_before = np.count_nonzero(~gap[last:row])
        ink_after = np.count_nonzero(~gap[end:])
        if ink_before >= min_band and ink_after >= min_band:
            cuts.append(cut)
            last = cut
        row = end
    return cuts


def turn(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """`image` [h, w] turned by `degrees` (counter-clockwise) about its centre on a canvas that holds
    all of it, and the [2, 3] affine map from the turned canvas back to `image`'s pixels."""
    h, w = image.shape
    rad = math.radians(degrees)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    out_w, out_h = int(math.ceil(w * cos + h * sin)), int(math.ceil(h * cos + w * sin))
    forward = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    forward[:, 2] += ((out_w - w) / 2, (out_h - h) / 2)
    turned = cv2.warpAffine(image, forward, (out_w, out_h), flags=cv2.INTER_NEAREST)
    return turned, cv2.invertAffineTransform(forward)


def split_multiline(binary: np.ndarray, quad: np.ndarray, angle: float, h_ref: float,
                    cfg: GroupingConfig = GroupingConfig()) -> list[np.ndarray] | None:
    """A quad that holds several text lines -> the word quads of each line (grouped again on each
    line's own ink), or None when it is one line, too tilted to cut by rows, or nothing is left.
    The rows are read level and turned by each of `cfg.multiline_tilts`; the reading with the most
    cuts is taken (level on ties)."""
    if abs(math.degrees(angle)) > cfg.multiline_max_angle:
        return None
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, binary.shape[1]), min(y1, binary.shape[0])
    if y1 - y0 < cfg.multiline_min_h * h_ref or x1 <= x0:
        return None
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(inside, [np.round(quad - (x0, y0)).astype(np.int32)], 1)
    crop = binary[y0:y1, x0:x1] & inside  # [h, w] only this quad's ink
    turned, to_crop, cuts = crop, None, line_cuts(crop.sum(axis=1), h_ref, cfg)
    for tilt in cfg.multiline_tilts:
        rows, back = turn(crop, tilt)
        tilt_cuts = line_cuts(rows.sum(axis=1), h_ref, cfg)
        if len(tilt_cuts) > len(cuts):
            turned, to_crop, cuts = rows, back, tilt_cuts
    if not cuts:
        return None
    quads = []
    for top, bottom in zip([0] + cuts, cuts + [turned.shape[0]]):
        band_quads, _, _ = ink_to_quads(np.ascontiguousarray(turned[top:bottom]), cfg, split_lines=False,
                                        h_given=h_ref)
        for q in band_quads:
            q = q + np.array([0, top], np.float32)  # [4, 2] in the (turned) crop
            if to_crop is not None:
                q = cv2.transform(q[None], to_crop)[0]
            quads.append(q + np.array([x0, y0], np.float32))
    return quads or None
