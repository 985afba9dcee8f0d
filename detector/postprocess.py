"""Ink map -> word quadrilaterals, as small pure functions.

Steps (all at the ink map's working scale):
1. `extract_components`: connected ink components (outer contour, pixel area, hole area).
2. `reference_height`: the typical character height H of the page.
3. `classify_components`: drop noise, straight strokes (underlines, arrows, frame sides, ruled
   lines), hollow frames and circles drawn around words, and solid blobs (magnets, tape, corners).
4. `dominant_angle`: the page's text direction, where projection profiles of the ink are sharpest.
5. `group_words`: in the text direction's frame, join components that share a line and are closer
   than a word gap (relative to their height); small marks above/below (dots, accents) join the
   component under them; then split each resulting group at gaps that are large for its own line.
6. `word_quad` / `order_quad`: a rectangle along the text direction around the group's ink, as a
   [4,2] quad clockwise from top-left.
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
    box_min_hole: float = 0.55  # square outlines whose hole covers this share are empty checkboxes
    max_h: float = 8.0  # components taller than this many H (drawings, page edges) are dropped
    v_overlap: float = 0.45  # share of the smaller height that must overlap to be on one line
    max_height_ratio: float = 2.5  # the gap allowance uses at most this times the smaller height
    min_word_h: float = 0.35  # lone components smaller than this many H are not words
    word_gap: float = 0.42  # join gap along the line, in units of the taller component's height
    line_gap_split: float = 2.2  # split a group where a gap exceeds this times the line's median gap ...
    min_split_gap: float = 0.3  # ... and at least this many H of the line
    dot_max_h: float = 0.45  # marks shorter than this share of the line height may be dots/accents
    dot_max_dist: float = 0.6  # ... within this many line heights above or below
    stray_min_len_h: float = 1.2  # lone strokes at least this many H long ...
    stray_min_elongation: float = 4.0  # ... this elongated ...
    stray_min_angle: float = 25.0  # ... and this many degrees off the text direction are dropped
    pad: float = 0.0  # padding added around each quad, in units of the word's height


@dataclass
class Components:
    """Connected ink components at working scale (struct of arrays)."""

    contours: list[np.ndarray]  # each [N,2] float32 outer contour points (x, y)
    area: np.ndarray  # [n] float32 ink pixels
    hole_area: np.ndarray  # [n] float32 area of holes inside the outer contour
    bbox: np.ndarray  # [n,4] float32 x0, y0, x1, y1 (exclusive)

    def __len__(self) -> int:
        return len(self.contours)

    def subset(self, keep: np.ndarray) -> Components:
        idx = np.flatnonzero(keep)
        return Components(
            contours=[self.contours[i] for i in idx],
            area=self.area[idx],
            hole_area=self.hole_area[idx],
            bbox=self.bbox[idx],
        )


def extract_components(binary: np.ndarray, min_area: int = 6) -> Components:
    """Outer contours of the 8-connected components of `binary` [H,W] (bool or uint8)."""
    mask = (binary > 0).astype(np.uint8)  # [H,W]
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return Components([], np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, 4), np.float32))
    hier = hierarchy[0]  # [m,4] next, prev, first_child, parent
    outer = np.flatnonzero(hier[:, 3] < 0)
    areas_all = np.array([cv2.contourArea(c) for c in contours], dtype=np.float32)
    holes = np.zeros(len(contours), np.float32)
    inner = np.flatnonzero(hier[:, 3] >= 0)
    np.add.at(holes, hier[inner, 3], areas_all[inner])
    out_contours, area, hole_area, bbox = [], [], [], []
    for i in outer:
        c = contours[i]
        x, y, w, h = cv2.boundingRect(c)
        # filled contour area minus holes approximates the ink pixel count; +perimeter/2 for the
        # pixel-centre contour convention (a 1-px line has contour area 0)
        ink = areas_all[i] - holes[i] + 0.5 * cv2.arcLength(c, True)
        if ink < min_area:
            continue
        out_contours.append(c.reshape(-1, 2).astype(np.float32))
        area.append(ink)
        hole_area.append(holes[i])
        bbox.append((x, y, x + w, y + h))
    return Components(
        contours=out_contours,
        area=np.asarray(area, np.float32),
        hole_area=np.asarray(hole_area, np.float32),
        bbox=np.asarray(bbox, np.float32).reshape(-1, 4),
    )


def reference_height(heights: np.ndarray, areas: np.ndarray) -> float:
    """Typical character height: area-weighted median height of components, ignoring specks."""
    if len(heights) == 0:
        return 10.0
    big = areas >= np.percentile(areas, 25)
    h, a = heights[big], areas[big]
    order = np.argsort(h)
    cum = np.cumsum(a[order])
    return float(max(3.0, h[order][np.searchsorted(cum, cum[-1] / 2)]))


def classify_components(comps: Components, h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> np.ndarray:
    """[n] bool: True for components that may be text (not noise, strokes, frames, blobs)."""
    n = len(comps)
    keep = np.ones(n, bool)
    if n == 0:
        return keep
    w = comps.bbox[:, 2] - comps.bbox[:, 0]
    h = comps.bbox[:, 3] - comps.bbox[:, 1]
    keep &= comps.area >= max(cfg.min_area, cfg.min_area_h2 * h_ref * h_ref)
    keep &= np.maximum(w, h) <= cfg.max_h * h_ref * 2.5  # giant drawings, page edges
    keep &= h <= cfg.max_h * h_ref
    centres = (comps.bbox[:, :2] + comps.bbox[:, 2:]) / 2
    for i in np.flatnonzero(keep):
        c = comps.contours[i]
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        long_side, short_side = max(rw, rh), min(rw, rh)
        half_perim = 0.5 * cv2.arcLength(c.reshape(-1, 1, 2), True)
        if long_side > cfg.line_min_len_h * h_ref and half_perim <= cfg.line_max_linearity * long_side:
            keep[i] = False  # a straight stroke
            continue
        outer_area = comps.area[i] + comps.hole_area[i]
        if h[i] > cfg.frame_min_h * h_ref and comps.hole_area[i] >= cfg.frame_min_hole * outer_area:
            x0, y0, x1, y1 = comps.bbox[i]
            inside = (centres[:, 0] > x0) & (centres[:, 0] < x1) & (centres[:, 1] > y0) & (centres[:, 1] < y1)
            inside[i] = False
            if inside.any():
                keep[i] = False  # a frame or circle drawn around other ink
                continue
        if comps.hole_area[i] >= cfg.box_min_hole * outer_area and _is_box(c):
            keep[i] = False  # an empty checkbox
            continue
        if (
            short_side > cfg.blob_min_h * h_ref
            and comps.area[i] >= cfg.blob_min_fill * max(rw * rh, 1.0)
        ):
            keep[i] = False  # a solid blob
    return keep


def _is_box(contour: np.ndarray) -> bool:
    """True when the contour [N,2] simplifies to a convex quadrilateral with near-square sides."""
    c = contour.reshape(-1, 1, 2)
    approx = cv2.approxPolyDP(c, 0.04 * cv2.arcLength(c, True), True)
    if len(approx) != 4 or not cv2.isContourConvex(approx):
        return False
    (_, _), (rw, rh), _ = cv2.minAreaRect(approx)
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


def _pairs(ext: np.ndarray, h_ref: float, cfg: GroupingConfig) -> tuple[np.ndarray, np.ndarray]:
    """Candidate joins (i, j) between components with extents [n,4] (u0,u1,v0,v1).

    The allowed gap grows with the pair's height, but a tall component (a stray stroke, a page
    edge) cannot stretch it beyond a few times the smaller one's height.
    """
    n = len(ext)
    u0, u1, v0, v1 = ext.T
    hv = v1 - v0
    pi, pj = [], []
    for start in range(0, n, 512):
        s = slice(start, start + 512)
        ov = np.minimum(v1[s, None], v1[None, :]) - np.maximum(v0[s, None], v0[None, :])  # [b,n]
        hmin = np.minimum(hv[s, None], hv[None, :])
        hmax = np.maximum(hv[s, None], hv[None, :])
        hmax = np.minimum(hmax, np.maximum(cfg.max_height_ratio * hmin, 0.5 * h_ref))
        ugap = np.maximum(u0[s, None], u0[None, :]) - np.minimum(u1[s, None], u1[None, :])  # <0: overlap
        same_line = (ov >= cfg.v_overlap * hmin) & (ugap <= cfg.word_gap * hmax)
        # dots and accents: a short mark above or below a taller one, overlapping it along u
        vgap = -ov
        hu = u1 - u0
        small = (hv[s, None] <= cfg.dot_max_h * hv[None, :]) & (hu[s, None] <= cfg.dot_max_h * hv[None, :])
        dot = small & (ugap < 0) & (vgap <= cfg.dot_max_dist * hv[None, :]) & (vgap > -hmin)
        ok = same_line | dot
        bi, bj = np.nonzero(ok)
        bi = bi + start
        keep = bi != bj
        pi.append(bi[keep])
        pj.append(bj[keep])
    if not pi:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(pi), np.concatenate(pj)


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


def group_words(ext: np.ndarray, cfg: GroupingConfig = GroupingConfig(), h_ref: float | None = None) -> list[list[int]]:
    """Indices of components forming each word, from rotated extents [n,4] (u0,u1,v0,v1)."""
    n = len(ext)
    if n == 0:
        return []
    if h_ref is None:
        h_ref = float(np.median(ext[:, 3] - ext[:, 2]))
    uf = _UnionFind(n)
    for i, j in zip(*_pairs(ext, h_ref, cfg)):
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


def is_stray_stroke(contour: np.ndarray, angle: float, h_ref: float, cfg: GroupingConfig = GroupingConfig()) -> bool:
    """A lone thin stroke running across the text direction (wood grain, creases, page edges)."""
    (_, _), (rw, rh), rect_deg = cv2.minAreaRect(contour)
    long_side, short_side = max(rw, rh), min(rw, rh)
    if long_side < cfg.stray_min_len_h * h_ref or long_side < cfg.stray_min_elongation * max(short_side, 1.0):
        return False
    direction = rect_deg if rw >= rh else rect_deg + 90.0  # degrees of the long side
    diff = abs((direction - math.degrees(angle) + 90.0) % 180.0 - 90.0)
    return diff > cfg.stray_min_angle


def ink_to_quads(
    binary: np.ndarray, cfg: GroupingConfig = GroupingConfig()
) -> tuple[list[np.ndarray], float, float]:
    """Binary ink [H,W] -> (word quads [4,2] at the same scale, text angle in radians, H)."""
    comps = extract_components(binary, cfg.min_area)
    if len(comps) == 0:
        return [], 0.0, 0.0
    heights = comps.bbox[:, 3] - comps.bbox[:, 1]
    h_ref = reference_height(heights, comps.area)
    comps = comps.subset(classify_components(comps, h_ref, cfg))
    if len(comps) == 0:
        return [], 0.0, h_ref
    points = np.concatenate(comps.contours)
    if len(points) > 40_000:  # enough for the profile; keeps it fast on dense pages
        points = points[:: len(points) // 40_000 + 1]
    angle = dominant_angle(points, bin_px=max(1.0, h_ref / 4))
    ext = rotated_extents(comps.contours, angle)
    quads = []
    for members in group_words(ext, cfg, h_ref):
        if len(members) == 1:
            u0, u1, v0, v1 = ext[members[0]]
            if max(u1 - u0, v1 - v0) < cfg.min_word_h * h_ref:
                continue  # a lone dot or speck
            if is_stray_stroke(comps.contours[members[0]], angle, h_ref, cfg):
                continue
        pts = np.concatenate([comps.contours[i] for i in members])
        quads.append(word_quad(pts, angle, cfg.pad))
    return quads, angle, h_ref
