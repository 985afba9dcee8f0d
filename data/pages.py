"""Synthetic phone photos of whiteboards, flipcharts, sticky-note walls and notebook pages, with
word and line ground truth and an ink mask.

How a page is made:
1. A scene kind, the page (board, sheet) size and a homography page -> photo are drawn first, so
   that every word can be checked where it ends up: in the photo.
2. The page surface is rendered at about the scale it will have in the photo (the warp is ~1:1,
   so it neither blurs nor aliases), then ghost text (whiteboards), then content blocks: headings,
   bullet and numbered lists, paragraphs, flows of boxed words with arrows, columns, doodles.
   Words come from `render.render_ink`; each one is projected into the photo before it is
   committed, and rejected or respaced if its axis-aligned photo box would hold another word's ink
   or its ink would fall in another word's box (axis-aligned boxes of tilted text overlap easily).
3. The page is warped once into a room/desk scene with a board frame, notebook cover or easel,
   then lit (surfaces.lighting, folded into a low-resolution gain/offset map), vignetted, blurred,
   given sensor noise and JPEG-compressed.

Ground truth: word "poly" = corners of the word's tight ink box on the page mapped through the
homography; "box" = bounds of the word's own warped ink (alpha > ink_threshold), [x0, y0, x1, y1]
with x1, y1 exclusive. Lines likewise from the union of their words. Ghost text is neither in the
ground truth nor in the mask; drawings (bullets, boxes, arrows, doodles) are in the mask only.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from data import surfaces
from data.fonts import FontSpec
from data.render import RenderConfig, paste_max, render_ink
from data.text import TextSampler

LINE_TYPE = "DefaultLine:Handwritten"
DESCENDERS = set("gjpqy,;")
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


def _page_render_config() -> RenderConfig:
    # Words on a page lean and wobble less than isolated crops: the line itself carries the tilt.
    # The slant is set per block (a hand has one slant), so per-word slant only varies a little.
    return RenderConfig(max_rotation=2.5, max_slant=0.08, p_elastic=0.5)


@dataclass
class PageConfig:
    size: tuple[int, int] = (2000, 1500)  # photo width, height
    kind_weights: dict[str, float] = field(default_factory=lambda: {
        "whiteboard": 0.32, "flipchart": 0.14, "sticky": 0.14, "notebook": 0.40})
    em_min_px: int = 12  # smallest font size in pixels
    max_words: int = 140  # caps the rendering time of dense notebook pages
    ink_threshold: float = 0.3  # alpha above which a pixel is ink (mask and boxes)
    faint_threshold: float = 0.05  # alpha above which ink counts when checking box overlaps
    max_rotation_deg: float = 4.0  # in-plane rotation of the page in the photo
    max_perspective: float = 0.05  # corner jitter, fraction of the page size
    max_keystone: float = 0.10  # one side nearer the camera than the other
    p_second_colour: float = 0.35
    p_ghost: float = 0.75  # whiteboards with erased writing behind the words
    p_columns: float = 0.3
    # A word (or two) circled, boxed, underlined or struck through with a stroke that touches its
    # letters: the detector must cut the letters free instead of dropping them with the drawing.
    p_word_mark: float = 0.05
    p_single_writer: float = 0.75  # one handwriting for the whole page
    jpeg_quality: tuple[int, int] = (55, 95)
    jpeg_in_render: bool = True  # render() returns the decoded JPEG, as the written file holds
    render: RenderConfig = field(default_factory=_page_render_config)


@dataclass
class PlacedWord:
    text: str
    line: int
    page_quad: np.ndarray  # [4, 2] tight ink box corners on the page (tl, tr, br, bl)
    poly: np.ndarray  # [4, 2] the same mapped into the photo
    box: tuple[int, int, int, int]  # photo box of the warped ink, x1/y1 exclusive
    ink: np.ndarray  # bool [y1-y0, x1-x0]: this word's warped ink (alpha > ink_threshold) in its box
    canvas: int  # index of the canvas (page, or a sticky note) it is written on
    canvas_box: Rect  # tight ink box in canvas coordinates


@dataclass
class PageRendering:
    rgb: np.ndarray  # uint8 [H, W, 3]
    mask: np.ndarray  # uint8 [H, W], 255 = ink of words and drawings
    record: dict
    words: list[PlacedWord]
    jpeg: bytes


@dataclass(eq=False)  # compared by identity
class _Canvas:
    """A surface words are written on: the page itself or a sticky note placed on it."""

    rgb: np.ndarray  # float32 [h, w, 3]
    cov: np.ndarray  # uint8 [h, w] ink coverage, for the mask
    to_page: np.ndarray  # 3x3, canvas -> page
    rules: tuple[float, float] | None = None  # (first baseline y, pitch) of ruled/squared paper
    occupied: list[Rect] = field(default_factory=list)  # word and drawing rects, canvas coords


@dataclass
class _Style:
    font: FontSpec
    em: int
    colour: np.ndarray
    second: np.ndarray  # highlight colour
    gap: float  # word spacing, in em
    pitch: float  # line pitch, in em
    stroke: int  # drawing line thickness
    slant: float  # shear of the whole block's writing (tan of the angle, > 0 leans right)


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    p = np.hstack([pts, np.ones((len(pts), 1))]) @ m.T
    return p[:, :2] / p[:, 2:3]


def _rect_corners(r: Rect) -> np.ndarray:
    x0, y0, x1, y1 = r
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _overlaps(a: Rect, b: Rect, margin: float = 0.0) -> bool:
    return a[0] - margin < b[2] and b[0] - margin < a[2] and a[1] - margin < b[3] and b[1] - margin < a[3]


class PageRenderer:
    """Renders whole synthetic photos with ground truth; deterministic for a given seed."""

    def __init__(self, fonts: list[FontSpec], seed: int | None = None, cfg: PageConfig | None = None,
                 sampler: TextSampler | None = None):
        if not fonts:
            raise ValueError("PageRenderer needs at least one font")
        self.fonts = fonts
        self.cfg = cfg or PageConfig()
        self.rng = np.random.default_rng(seed)
        self.sampler = sampler or TextSampler(seed=None if seed is None else seed + 1)

    # ------------------------------------------------------------------ public
    def render(self) -> tuple[np.ndarray, np.ndarray, dict]:
        """One photo (RGB uint8), its ink mask (uint8, 255 = ink) and its pages.jsonl record
        (without "image")."""
        page = self.render_detailed()
        return page.rgb, page.mask, page.record

    def render_detailed(self) -> PageRendering:
        rng, cfg = self.rng, self.cfg
        W, H = cfg.size
        names = list(cfg.kind_weights)
        p = np.array([cfg.kind_weights[n] for n in names], np.float64)
        kind = names[rng.choice(len(names), p=p / p.sum())]
        pw, ph = self._page_size(kind, W, H)
        margin = self._content_margin(kind, pw, ph)
        content = (margin[0], margin[1], pw - margin[2], ph - margin[3])
        self.homography = self._homography(pw, ph, content, kind, W, H)
        # Photo-level occupancy of word ink (faint) and word boxes: the overlap check.
        self._occ_ink = np.zeros((H, W), bool)
        self._occ_box = np.zeros((H, W), bool)
        self._words: list[PlacedWord] = []
        self._lines: list[list[int]] = []
        self._canvases: list[_Canvas] = []

        page = self._page_canvas(kind, pw, ph)
        self._fill_page(kind, page, content)
        rgb, mask = self._photograph(kind, page, pw, ph)
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        jpeg = buf.tobytes()
        if cfg.jpeg_in_render:
            rgb = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        record = self._record(kind, W, H, quality)
        return PageRendering(rgb, mask, record, self._words, jpeg)

    # ------------------------------------------------------------------ geometry
    def _page_size(self, kind: str, W: int, H: int) -> tuple[int, int]:
        rng = self.rng
        if kind == "whiteboard":
            aspect, fill = rng.uniform(1.25, 1.9), rng.uniform(0.8, 1.06)
        elif kind == "flipchart":
            aspect, fill = rng.uniform(0.68, 0.82), rng.uniform(0.78, 0.95)
        elif kind == "sticky":
            aspect, fill = rng.uniform(1.2, 1.8), rng.uniform(0.85, 1.1)
        else:  # notebook: A4/A5 portrait mostly, sometimes landscape
            aspect = 1 / 1.414 if rng.random() < 0.75 else 1.414
            aspect *= rng.uniform(0.95, 1.05)
            fill = rng.uniform(0.75, 0.98)
        scale = fill * min(W / aspect, H)
        return int(scale * aspect), int(scale)

    def _content_margin(self, kind: str, pw: int, ph: int) -> tuple[int, int, int, int]:
        rng = self.rng
        lo, hi = (0.04, 0.1) if kind != "notebook" else (0.06, 0.12)
        mx = rng.uniform(lo, hi, 2) * pw
        my = rng.uniform(lo, hi, 2) * ph
        return int(mx[0]), int(my[0]), int(mx[1]), int(my[1])

    def _homography(self, pw: int, ph: int, content: Rect, kind: str, W: int, H: int) -> np.ndarray:
        """Page -> photo. The page may spill over the photo edges, its content may not."""
        rng, cfg = self.rng, self.cfg
        src = _rect_corners((0, 0, pw, ph))
        theta = np.deg2rad(rng.normal(0, cfg.max_rotation_deg / 2))
        theta = np.clip(theta, -np.deg2rad(cfg.max_rotation_deg), np.deg2rad(cfg.max_rotation_deg))
        jitter = rng.uniform(-cfg.max_perspective, cfg.max_perspective, (4, 2)) * [pw, ph]
        kx, ky = rng.uniform(-cfg.max_keystone, cfg.max_keystone, 2)
        shift = rng.uniform(-0.06, 0.06, 2) * [W, H]
        m = 0.01 * min(W, H)
        scale = 1.0
        for _ in range(30):
            rel = src - [pw / 2, ph / 2]
            # Keystone: the side nearer the camera is longer (left/right by kx, top/bottom by ky).
            rel = rel * np.stack([1 + ky * np.sign(rel[:, 1]), 1 + kx * np.sign(rel[:, 0])], 1)
            rel = rel + jitter
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            dst = (rel @ rot.T) * scale + [W / 2, H / 2] + shift * scale
            h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
            c = _apply(h, _rect_corners(content))
            if c[:, 0].min() >= m and c[:, 1].min() >= m and c[:, 0].max() <= W - m and c[:, 1].max() <= H - m:
                return h
            scale *= 0.95
        return h

    # ------------------------------------------------------------------ page surface
    def _page_canvas(self, kind: str, pw: int, ph: int) -> _Canvas:
        rng = self.rng
        rules = None
        if kind == "whiteboard":
            rgb = self._surface("whiteboard", ph, pw)
        elif kind == "flipchart":
            rgb = self._surface("flipchart", ph, pw, line_pitch=ph / rng.uniform(12, 20))
        elif kind == "sticky":
            backing = "whiteboard" if rng.random() < 0.6 else ("kraft" if rng.random() < 0.5 else "paper")
            rgb = self._surface(backing, ph, pw)
            if backing == "paper":  # a painted wall rather than a sheet
                rgb *= np.array([0.92, 0.9, 0.86], np.float32) * rng.uniform(0.85, 1.0)
        else:
            rgb = self._surface("paper", ph, pw)
            paper = rng.choice(["ruled", "ruled", "squared", "plain"])
            if paper != "plain":
                pitch = ph / rng.uniform(24, 34)
                rules = (rng.uniform(0.04, 0.09) * ph, pitch)
                self._draw_rules(rgb, paper, rules, pw)
        canvas = _Canvas(rgb, np.zeros((ph, pw), np.uint8), np.eye(3), rules)
        self._canvases.append(canvas)
        if kind == "whiteboard" and rng.random() < self.cfg.p_ghost:
            self._ghosts(canvas)
        return canvas

    def _surface(self, kind: str, h: int, w: int, line_pitch: float = 40.0) -> np.ndarray:
        """surfaces.surface at quarter scale, upsampled: its shading and texture are smooth, and
        at full page scale it would cost more than all the words together."""
        small = surfaces.surface(kind, max(2, h // 4 + 1), max(2, w // 4 + 1), self.rng, line_pitch / 4)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    def _draw_rules(self, rgb: np.ndarray, paper: str, rules: tuple[float, float], pw: int) -> None:
        """Rules at known positions, so that handwriting can sit on them."""
        rng = self.rng
        ph = rgb.shape[0]
        first, pitch = rules
        colour = np.array([0.55, 0.68, 0.88], np.float32) if rng.random() < 0.8 else np.array([0.6, 0.6, 0.6], np.float32)
        colour = np.clip(colour + rng.uniform(-0.12, 0.08, 3).astype(np.float32), 0, 1)
        if rng.random() < 0.4:  # printed dark: in a phone photo, as dark as the pen (notebook-photos page03)
            colour = colour * rng.uniform(0.25, 0.7)
        # Real notebook rules photographed at 1-2k px are 1-3 px wide and nearly as dark as pen ink
        # (notebook-photos): faint 1 px rules alone taught the binarizer to keep dark rules as ink.
        strength = rng.uniform(0.3, 0.85)
        width = max(1, int(round(ph * rng.uniform(0.0005, 0.0018))))
        step = pitch / 2 if paper == "squared" else pitch
        y = first - step * int(first // step)
        while y < ph:
            yi = int(y)
            rgb[yi:yi + width] = rgb[yi:yi + width] * (1 - strength) + colour * strength
            rgb[yi + width:yi + width + 1] = rgb[yi + width:yi + width + 1] * (1 - strength / 2) + colour * (strength / 2)  # anti-aliased edge
            y += step
        if paper == "squared":
            x = rng.uniform(0, step)
            while x < pw:
                xi = int(x)
                rgb[:, xi:xi + width] = rgb[:, xi:xi + width] * (1 - strength) + colour * strength
                x += step
        elif rng.random() < 0.5:  # red margin line
            xi = int(rng.uniform(0.07, 0.11) * pw)
            rgb[:, xi:xi + 2] = rgb[:, xi:xi + 2] * 0.5 + np.array([0.9, 0.35, 0.35], np.float32) * 0.5

    def _ghosts(self, canvas: _Canvas) -> None:
        """Faint, smeared remains of erased writing: never in the ground truth or the mask."""
        rng = self.rng
        ph, pw = canvas.rgb.shape[:2]
        font = self.fonts[rng.integers(len(self.fonts))]
        for _ in range(int(rng.integers(1, 4))):
            em = max(self.cfg.em_min_px, int(ph * rng.uniform(0.03, 0.06)) // 2 * 2)
            text = " ".join(self.sampler.token() for _ in range(int(rng.integers(1, 4))))
            text = "".join(c for c in text if c in font.charset) or "x"
            alpha = render_ink(text, font, em, rng, self.cfg.render).alpha
            # An eraser leaves streaks: blur along one direction, uneven strength.
            alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=rng.uniform(2.0, 6.0), sigmaY=rng.uniform(1.0, 3.0))
            alpha *= rng.uniform(0.04, 0.14) * (0.6 + 0.4 * surfaces.low_freq_noise(*alpha.shape, rng, cells=3))
            y, x = int(rng.uniform(0, ph - alpha.shape[0])), int(rng.uniform(0, max(1, pw - alpha.shape[1])))
            region = canvas.rgb[max(0, y):y + alpha.shape[0], max(0, x):x + alpha.shape[1]]
            a = alpha[:region.shape[0], :region.shape[1]]
            region[:] = surfaces.composite(region, a, surfaces.ink_colour(rng, "whiteboard"))

    # ------------------------------------------------------------------ content
    def _style(self, kind: str, canvas: _Canvas, font: FontSpec, em: int | None = None) -> _Style:
        rng, cfg = self.rng, self.cfg
        ph = canvas.rgb.shape[0]
        surface = {"notebook": "paper", "sticky": "sticky"}.get(kind, "whiteboard")
        if em is None:
            if canvas.rules is not None:
                em = canvas.rules[1] * rng.uniform(0.8, 1.05)
            elif kind == "notebook":
                em = ph * rng.uniform(0.025, 0.04)
            else:
                em = ph * rng.uniform(0.035, 0.065)
        em = max(cfg.em_min_px, int(em) // 2 * 2)
        colour = self._pen_colour() if kind == "notebook" else surfaces.ink_colour(rng, surface)
        second = surfaces.ink_colour(rng, surface)
        marker = kind != "notebook"
        stroke = max(1, int(round(em * (rng.uniform(0.06, 0.1) if marker else rng.uniform(0.03, 0.06)))))
        return _Style(font, em, colour, second, gap=rng.uniform(0.35, 0.65), pitch=rng.uniform(1.35, 1.8),
                      stroke=stroke, slant=float(np.clip(rng.normal(0.08, 0.15), -0.2, 0.4)))

    def _pen_colour(self) -> np.ndarray:
        """Notebooks are written in ballpoint blue or black, now and then pencil or gel colours."""
        rng = self.rng
        r = rng.random()
        base = ([0.12, 0.2, 0.62] if r < 0.55 else [0.1, 0.1, 0.12] if r < 0.85 else [0.42, 0.42, 0.45] if r < 0.93
                else surfaces.INK_COLOURS[rng.integers(len(surfaces.INK_COLOURS))])
        return np.clip(np.asarray(base, np.float32) + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)

    def _pick_font(self) -> FontSpec:
        return self.fonts[self.rng.integers(len(self.fonts))]

    def _fill_page(self, kind: str, page: _Canvas, content: Rect) -> None:
        rng, cfg = self.rng, self.cfg
        writer = self._pick_font()
        font_for_block = (lambda: writer) if rng.random() < cfg.p_single_writer else self._pick_font
        if kind == "sticky":
            self._sticky_wall(page, content, font_for_block)
            return
        x0, y0, x1, y1 = content
        style = self._style(kind, page, font_for_block())
        y = y0
        if rng.random() < 0.8:  # a title across the page
            heading = replace(style, em=int(style.em * rng.uniform(1.2, 1.7)) // 2 * 2)
            if rng.random() < cfg.p_second_colour:
                heading.colour = heading.second
            y = self._heading(page, heading, x0 + rng.uniform(0, 0.3) * (x1 - x0), y, x1)
        ncols = 1
        if rng.random() < cfg.p_columns and x1 - x0 > 14 * style.em:
            ncols = 2 if rng.random() < 0.7 or x1 - x0 < 30 * style.em else 3
        gutter = style.em * rng.uniform(1.0, 2.5)
        colw = (x1 - x0 - gutter * (ncols - 1)) / ncols
        for c in range(ncols):
            cx0 = x0 + c * (colw + gutter)
            if c and rng.random() < 0.4:  # a dividing line between columns
                xs = cx0 - gutter / 2
                self._stroke(page, np.array([[xs, y], [xs + rng.normal(0, 3), y1]]), style.stroke, style.colour)
            self._fill_column(kind, page, (cx0, y, cx0 + colw, y1), font_for_block, style)
        self._doodles(page, content, style, int(rng.integers(0, 4 if kind != "notebook" else 2)))

    def _fill_column(self, kind: str, canvas: _Canvas, region: Rect, font_for_block, base: _Style) -> None:
        rng = self.rng
        x0, y, x1, y1 = region
        while y < y1 - 1.2 * base.em and len(self._words) < self.cfg.max_words:
            style = base if rng.random() < 0.7 else self._style(kind, canvas, font_for_block(), base.em)
            r = rng.random()
            if r < 0.18:
                sub = replace(style, em=int(style.em * rng.uniform(1.0, 1.35)) // 2 * 2)
                y = self._heading(canvas, sub, x0, y, x1)
            elif r < 0.45:
                y = self._list(canvas, style, x0, y, x1, y1, numbered=False)
            elif r < 0.6:
                y = self._list(canvas, style, x0, y, x1, y1, numbered=True)
            elif r < 0.85 or kind == "notebook":
                y = self._paragraph(canvas, style, x0, y, x1, y1)
            else:
                y = self._flow(canvas, style, x0, y, x1, y1)
            y += style.em * rng.uniform(0.3, 1.2)

    def _baseline(self, canvas: _Canvas, y_top: float, style: _Style) -> float:
        """Baseline of a line whose top is at y_top: on the next rule when the paper has rules."""
        if canvas.rules is None:
            return y_top + style.em * 0.95
        first, pitch = canvas.rules
        k = max(0, int(np.ceil((y_top + 0.75 * style.em - first) / pitch)))
        return first + k * pitch - 0.08 * style.em

    def _advance(self, canvas: _Canvas, baseline: float, style: _Style) -> float:
        """Top of the line after the one on `baseline`."""
        if canvas.rules is None:
            return baseline + style.em * (style.pitch - 0.95)
        return baseline + 0.3 * style.em

    def _tokens(self, n: int, font: FontSpec, words_only: bool = False) -> list[str]:
        out: list[str] = []
        for _ in range(n):
            for _ in range(5):
                t = self.sampler.word() if words_only else self.sampler.token()
                if all(c in font.charset for c in t):
                    out.extend(t.split())  # "12 Jan" is two words on the page
                    break
        return out

    def _heading(self, canvas: _Canvas, style: _Style, x: float, y_top: float, x1: float) -> float:
        rng = self.rng
        tokens = self._tokens(int(rng.integers(1, 4)), style.font, words_only=True)
        if rng.random() < 0.4:
            tokens = [t.upper() for t in tokens]
        if tokens and rng.random() < 0.3 and ":" in style.font.charset:
            tokens[-1] += ":"
        base = self._baseline(canvas, y_top, style)
        ids, _, base = self._line(canvas, style, tokens, x, base, x1, wrap_indent=0.0)
        if ids:
            r = self._union([self._words[i].canvas_box for i in ids])
            deco = rng.random()
            pad = 0.25 * style.em
            if deco < 0.4:
                yy = r[3] + pad
                self._stroke(canvas, self._wobbly_line((r[0] - pad, yy), (r[2] + pad, yy + rng.normal(0, 2)), style.em),
                             style.stroke, style.colour)
                if rng.random() < 0.25:
                    yy += 0.2 * style.em
                    self._stroke(canvas, self._wobbly_line((r[0], yy), (r[2], yy), style.em), style.stroke, style.colour)
                base = max(base, yy)
            elif deco < 0.55:
                self._stroke(canvas, self._box_points((r[0] - pad, r[1] - pad, r[2] + pad, r[3] + pad)),
                             style.stroke, style.colour)
                base = max(base, r[3] + pad)
        return self._advance(canvas, base, style) + 0.2 * style.em

    def _list(self, canvas: _Canvas, style: _Style, x0: float, y_top: float, x1: float, y1: float,
              numbered: bool) -> float:
        rng = self.rng
        bullet = rng.choice(["dot", "dash", "box", "arrow", "star"])
        number_style = rng.choice(["{}.", "{})", "{}", "({})"]) if numbered else ""
        indent = style.em * rng.uniform(0.9, 1.5)
        y = y_top
        for i in range(int(rng.integers(2, 7))):
            base = self._baseline(canvas, y, style)
            if base > y1 - 0.2 * style.em or len(self._words) >= self.cfg.max_words:
                break
            tokens = self._tokens(int(rng.integers(1, 7)), style.font)
            if numbered:
                label = number_style.format(i + 1)
                if all(c in style.font.charset for c in label):
                    tokens = [label] + tokens
                x = x0
            else:
                self._bullet(canvas, style, bullet, x0 + 0.3 * style.em, base)
                x = x0 + indent
            ids, _, base = self._line(canvas, style, tokens, x, base, x1, wrap_indent=style.em * 0.8, y_limit=y1)
            if not ids:
                break
            y = self._advance(canvas, base, style)
        return y

    def _paragraph(self, canvas: _Canvas, style: _Style, x0: float, y_top: float, x1: float, y1: float) -> float:
        rng = self.rng
        tokens = self._tokens(int(rng.integers(4, 25)), style.font)
        base = self._baseline(canvas, y_top, style)
        if base > y1 - 0.2 * style.em:
            return y1
        x = x0 + (style.em * rng.uniform(0, 2) if rng.random() < 0.3 else 0)
        ids, _, base = self._line(canvas, style, tokens, x, base, x1, wrap_indent=x0 - x, y_limit=y1)
        return self._advance(canvas, base, style)

    def _flow(self, canvas: _Canvas, style: _Style, x0: float, y_top: float, x1: float, y1: float) -> float:
        """Boxed or circled words joined by arrows: a process on a board."""
        rng = self.rng
        base = self._baseline(canvas, y_top + 0.4 * style.em, style)
        if base > y1 - 0.6 * style.em:
            return y1
        x = x0 + 0.4 * style.em
        pad = 0.3 * style.em
        shape = rng.choice(["box", "ellipse", "none"])
        prev: Rect | None = None
        bottom = base
        for _ in range(int(rng.integers(2, 5))):
            tokens = self._tokens(1, style.font, words_only=rng.random() < 0.7)
            ids, _, _ = self._line(canvas, style, tokens, x, base, x1 - pad, wrap_indent=0.0, max_lines=1)
            if not ids:
                break
            r = self._union([self._words[i].canvas_box for i in ids])
            outer = (r[0] - pad, r[1] - pad, r[2] + pad, r[3] + pad)
            if shape == "box":
                self._stroke(canvas, self._box_points(outer), style.stroke, style.colour)
            elif shape == "ellipse":
                self._stroke(canvas, self._ellipse_points(outer, 1.25), style.stroke, style.colour)
            if prev is not None:
                ya = (r[1] + r[3]) / 2
                self._arrow(canvas, style, (prev[2] + 0.15 * style.em, ya), (outer[0] - 0.15 * style.em, ya))
            prev = outer
            bottom = max(bottom, outer[3])
            x = outer[2] + style.em * rng.uniform(1.6, 2.6)
        return self._advance(canvas, bottom, style) + 0.2 * style.em

    def _sticky_wall(self, page: _Canvas, content: Rect, font_for_block) -> None:
        """Several sticky notes, slightly rotated, in a loose grid; maybe a title above."""
        rng = self.rng
        x0, y0, x1, y1 = content
        if rng.random() < 0.5:
            style = self._style("whiteboard", page, font_for_block())
            y0 = self._heading(page, style, x0 + rng.uniform(0, 0.3) * (x1 - x0), y0, x1)
        rows = int(rng.integers(1, 4))
        cols = int(rng.integers(2, 5))
        cw, chh = (x1 - x0) / cols, (y1 - y0) / rows
        side = min(cw, chh) * rng.uniform(0.72, 0.9)
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.15 or len(self._words) >= self.cfg.max_words:
                    continue
                nw, nh = int(side * rng.uniform(0.92, 1.08)), int(side * rng.uniform(0.92, 1.08))
                cx = x0 + (c + 0.5) * cw + rng.uniform(-0.08, 0.08) * cw
                cy = y0 + (r + 0.5) * chh + rng.uniform(-0.08, 0.08) * chh
                self._note(page, (nw, nh), (cx, cy), np.deg2rad(rng.normal(0, 3)), font_for_block())

    def _note(self, page: _Canvas, size: tuple[int, int], centre: tuple[float, float], theta: float,
              font: FontSpec) -> None:
        rng = self.rng
        nw, nh = size
        rgb = surfaces.surface("sticky", nh, nw, rng)
        cos, sin = np.cos(theta), np.sin(theta)
        to_page = _translate(*centre) @ np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]) @ _translate(-nw / 2, -nh / 2)
        note = _Canvas(rgb, np.zeros((nh, nw), np.uint8), to_page)
        self._canvases.append(note)
        style = self._style("sticky", note, font, em=nh * rng.uniform(0.11, 0.17))
        m = 0.1 * nw
        y = m * rng.uniform(0.5, 1.0)
        if rng.random() < 0.4:
            y = self._heading(note, style, m, y, nw - m)
        if rng.random() < 0.6:
            self._paragraph(note, style, m, y, nw - m, nh - m * 0.5)
        else:
            self._list(note, style, m * 0.6, y, nw - m * 0.6, nh - m * 0.5, numbered=rng.random() < 0.3)
        self._place_canvas(page, note)

    def _place_canvas(self, page: _Canvas, note: _Canvas) -> None:
        """Warp a note (surface, ink coverage) onto the page, with a soft drop shadow."""
        nh, nw = note.cov.shape
        corners = _apply(note.to_page, _rect_corners((0, 0, nw, nh)))
        ph, pw = page.cov.shape
        bx0, by0 = max(0, int(corners[:, 0].min()) - 8), max(0, int(corners[:, 1].min()) - 8)
        bx1, by1 = min(pw, int(corners[:, 0].max()) + 12), min(ph, int(corners[:, 1].max()) + 14)
        if bx1 <= bx0 or by1 <= by0:
            return
        m = (_translate(-bx0, -by0) @ note.to_page)[:2].astype(np.float32)
        size = (bx1 - bx0, by1 - by0)
        rgb = cv2.warpAffine(note.rgb, m, size, flags=cv2.INTER_LINEAR)
        cov = cv2.warpAffine(note.cov, m, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(np.ones((nh, nw), np.float32), m, size, flags=cv2.INTER_LINEAR)
        shadow = cv2.GaussianBlur(np.roll(alpha, (4, 2), (0, 1)), (0, 0), 4.0) * self.rng.uniform(0.15, 0.35)
        region = page.rgb[by0:by1, bx0:bx1]
        region *= (1 - shadow)[..., None]
        region[:] = region * (1 - alpha[..., None]) + rgb * alpha[..., None]
        np.maximum(page.cov[by0:by1, bx0:bx1], cov, out=page.cov[by0:by1, bx0:bx1])
        page.occupied.append((bx0, by0, bx1, by1))

    # ------------------------------------------------------------------ words
    def _line(self, canvas: _Canvas, style: _Style, tokens: list[str], x: float, base: float, x1: float,
              wrap_indent: float, y_limit: float | None = None, max_lines: int = 8) -> tuple[list[int], float, float]:
        """Write tokens from x on baseline `base`, wrapping at x1. Returns the word ids written, the
        x after the last word and the last baseline."""
        rng, cfg = self.rng, self.cfg
        angle = np.tan(np.deg2rad(rng.normal(0, 0.8)))  # a hand-written line is rarely level
        x_start = line_x0 = x
        line_id = self._new_line()
        ids: list[int] = []
        lines_used = 1
        highlight = rng.random() < cfg.p_second_colour * 0.4
        for token in tokens:
            if len(self._words) >= cfg.max_words:
                break
            size = max(cfg.em_min_px, int(style.em * rng.uniform(0.93, 1.07)) // 2 * 2)
            ink = render_ink(token, style.font, size, rng, cfg.render)
            alpha = self._shear(ink.alpha, style.slant)
            tight = self._tight(alpha)
            if tight is None:
                continue
            tx0, ty0, tx1, ty1 = tight
            descent = 0.22 * size if any(c in DESCENDERS for c in ink.text) else 0.0
            if x + (tx1 - tx0) > x1 and x > line_x0 + 1:  # wrap, unless the line is still empty
                if lines_used >= max_lines:
                    break
                base = self._advance(canvas, base, style)
                base = self._baseline(canvas, base, style)
                if y_limit is not None and base > y_limit:
                    break
                x = line_x0 = x_start + wrap_indent
                lines_used += 1
                line_id = self._new_line()
            if x + (tx1 - tx0) > x1 + style.em:  # a single word wider than the column
                continue
            colour = style.second if highlight and rng.random() < 0.5 else style.colour
            placed = False
            for attempt in range(3):
                y_ink_bottom = base + (x - line_x0) * angle + rng.normal(0, 0.04 * size) + descent
                px, py = int(round(x - tx0)), int(round(y_ink_bottom - ty1))
                if self._try_place(canvas, alpha, ink.text, (px, py), tight, line_id, colour):
                    placed = True
                    break
                x += 0.5 * size  # respace: a little further along the line
            if placed:
                ids.append(len(self._words) - 1)
                x += (tx1 - tx0) + style.gap * size * rng.uniform(0.8, 1.25)
        for k, i in enumerate(ids):
            if rng.random() < cfg.p_word_mark:
                same_line = k + 1 < len(ids) and self._words[ids[k + 1]].line == self._words[i].line
                pair = [i, ids[k + 1]] if same_line and rng.random() < 0.3 else [i]
                self._mark_words(canvas, style, self._union([self._words[j].canvas_box for j in pair]))
        return ids, x, base

    def _mark_words(self, canvas: _Canvas, style: _Style, r: Rect) -> None:
        """A stroke that touches the letters of the words in `r`: a tight circle or box, an underline
        through the descenders, or a line struck through (the words stay words)."""
        rng = self.rng
        x0, y0, x1, y1 = r
        h = y1 - y0
        kind = rng.choice(["ellipse", "box", "underline", "strike"], p=[0.4, 0.15, 0.3, 0.15])
        colour = style.colour if rng.random() < 0.5 else style.second
        if kind == "ellipse":  # hugging the word: the loop runs over its first and last letters
            pts = self._ellipse_points((x0, y0, x1, y1), rng.uniform(0.95, 1.12))
        elif kind == "box":
            pad = rng.uniform(-0.05, 0.08) * h
            pts = self._box_points((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        elif kind == "underline":
            y = y1 - rng.uniform(0.0, 0.12) * h
            pts = self._wobbly_line((x0 - rng.uniform(0, 0.3) * h, y), (x1 + rng.uniform(0, 0.5) * h, y), style.em)
        else:
            y = y0 + rng.uniform(0.4, 0.65) * h
            pts = self._wobbly_line((x0 - rng.uniform(0, 0.2) * h, y), (x1 + rng.uniform(0, 0.2) * h, y), style.em)
        self._stroke(canvas, pts, style.stroke, colour)

    @staticmethod
    def _shear(alpha: np.ndarray, slant: float) -> np.ndarray:
        """Lean the word by `slant` about its vertical middle, widening the crop to keep the ink."""
        if abs(slant) < 0.02:
            return alpha
        h, w = alpha.shape
        extra = int(np.ceil(abs(slant) * h / 2)) + 1
        m = np.array([[1, -slant, slant * h / 2 + extra], [0, 1, 0]], np.float32)
        return cv2.warpAffine(alpha, m, (w + 2 * extra, h), flags=cv2.INTER_LINEAR, borderValue=0)

    def _new_line(self) -> int:
        self._lines.append([])
        return len(self._lines) - 1

    def _tight(self, alpha: np.ndarray) -> tuple[int, int, int, int] | None:
        ys, xs = np.nonzero(alpha > self.cfg.ink_threshold)
        if len(xs) == 0:
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def _try_place(self, canvas: _Canvas, alpha: np.ndarray, text: str, pos: tuple[int, int],
                   tight: tuple[int, int, int, int], line_id: int, colour: np.ndarray) -> bool:
        """Project the word into the photo; commit it (ink on the canvas, ground truth, occupancy)
        unless its box would overlap another word's ink or its ink another word's box."""
        cfg = self.cfg
        W, H = cfg.size
        ch, cw = canvas.cov.shape
        h, w = alpha.shape
        px, py = pos
        tx0, ty0, tx1, ty1 = tight
        if px + tx0 < 0 or py + ty0 < 0 or px + tx1 > cw or py + ty1 > ch:
            return False
        to_photo = self.homography @ canvas.to_page @ _translate(px, py)
        corners = _apply(to_photo, _rect_corners((0, 0, w, h)))
        bx0, by0 = int(np.floor(corners[:, 0].min())), int(np.floor(corners[:, 1].min()))
        bx1, by1 = int(np.ceil(corners[:, 0].max())) + 1, int(np.ceil(corners[:, 1].max())) + 1
        if bx0 < 0 or by0 < 0 or bx1 > W or by1 > H:
            return False
        warped = cv2.warpPerspective(alpha, _translate(-bx0, -by0) @ to_photo, (bx1 - bx0, by1 - by0),
                                     flags=cv2.INTER_LINEAR, borderValue=0)
        ys, xs = np.nonzero(warped > cfg.ink_threshold)
        if len(xs) == 0:
            return False
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        faint = warped > cfg.faint_threshold
        # Hairline strokes that shrank in the warp barely reach the ink threshold: the box would
        # then cover a few pixels of a visible word. Such words are not written at all.
        fy, fx = np.nonzero(faint)
        if (x1 - x0) < 0.8 * (fx.max() + 1 - fx.min()) or (y1 - y0) < 0.7 * (fy.max() + 1 - fy.min()) \
                or len(xs) < 0.3 * len(fx):
            return False
        box = (bx0 + x0, by0 + y0, bx0 + x1, by0 + y1)
        if self._occ_ink[box[1]:box[3], box[0]:box[2]].any():
            return False
        if (self._occ_box[by0:by1, bx0:bx1] & faint).any():
            return False
        # Commit.
        self._occ_ink[by0:by1, bx0:bx1] |= faint
        self._occ_box[box[1]:box[3], box[0]:box[2]] = True
        look = surfaces.marker_alpha(alpha, self.rng) * self.rng.uniform(0.85, 1.0)
        self._lay_ink(canvas, alpha, look, py, px, colour)
        canvas_box = (px + tx0, py + ty0, px + tx1, py + ty1)
        canvas.occupied.append(canvas_box)
        quad = _apply(canvas.to_page, _rect_corners(canvas_box))
        poly = _apply(self.homography, quad)
        ink = np.ascontiguousarray(warped[y0:y1, x0:x1] > cfg.ink_threshold)
        self._words.append(PlacedWord(text, line_id, quad, poly, box, ink, self._canvases.index(canvas), canvas_box))
        self._lines[line_id].append(len(self._words) - 1)
        return True

    def _lay_ink(self, canvas: _Canvas, shape: np.ndarray, look: np.ndarray, y: int, x: int,
                 colour: np.ndarray) -> None:
        """Ink `look` (appearance alpha) in `colour` on the canvas; `shape` into the coverage."""
        ch, cw = canvas.cov.shape
        h, w = shape.shape
        y0, x0, y1, x1 = max(0, y), max(0, x), min(ch, y + h), min(cw, x + w)
        if y1 <= y0 or x1 <= x0:
            return
        a = look[y0 - y:y1 - y, x0 - x:x1 - x]
        region = canvas.rgb[y0:y1, x0:x1]
        region[:] = surfaces.composite(region, a, colour)
        paste_max(canvas.cov, (shape * 255).astype(np.uint8), y, x)

    @staticmethod
    def _union(rects: list[Rect]) -> Rect:
        return (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects))

    # ------------------------------------------------------------------ drawings
    def _wobbly_line(self, p: tuple[float, float], q: tuple[float, float], em: float) -> np.ndarray:
        n = max(2, int(np.hypot(q[0] - p[0], q[1] - p[1]) / 8))
        t = np.linspace(0, 1, n)[:, None]
        pts = (1 - t) * np.array(p) + t * np.array(q)
        return self._wobble(pts, em * 0.03)

    def _wobble(self, pts: np.ndarray, amplitude: float) -> np.ndarray:
        """Smooth hand tremor along a polyline."""
        n = len(pts)
        if n < 3:
            return pts
        k = max(2, n // 12)
        ctrl = self.rng.normal(0, amplitude, (k, 2))
        idx = np.linspace(0, k - 1, n)
        return pts + np.stack([np.interp(idx, np.arange(k), ctrl[:, 0]), np.interp(idx, np.arange(k), ctrl[:, 1])], 1)

    def _box_points(self, r: Rect) -> np.ndarray:
        rng = self.rng
        x0, y0, x1, y1 = r
        c = _rect_corners(r) + rng.normal(0, 0.01 * (y1 - y0 + x1 - x0) / 2, (4, 2))
        over = c[0] + (c[1] - c[0]) * rng.uniform(0.02, 0.12)  # the stroke overshoots where it closes
        pts = np.vstack([c, c[:1], over[None]])
        dense = np.vstack([np.linspace(a, b, max(2, int(np.hypot(*(b - a)) / 8)), endpoint=False)
                           for a, b in zip(pts[:-1], pts[1:])] + [pts[-1:]])
        return self._wobble(dense, 0.02 * (y1 - y0))

    def _ellipse_points(self, r: Rect, grow: float = 1.0) -> np.ndarray:
        rng = self.rng
        cx, cy = (r[0] + r[2]) / 2, (r[1] + r[3]) / 2
        ax, ay = (r[2] - r[0]) / 2 * grow, (r[3] - r[1]) / 2 * grow
        start = rng.uniform(0, 2 * np.pi)
        t = np.linspace(start, start + 2 * np.pi + rng.uniform(0.1, 0.5), 64)
        radius = 1 + np.linspace(0, rng.normal(0, 0.08), 64)  # the loop does not close exactly
        return np.stack([cx + ax * radius * np.cos(t), cy + ay * radius * np.sin(t)], 1)

    def _stroke(self, canvas: _Canvas, pts: np.ndarray, thickness: int, colour: np.ndarray, closed: bool = False) -> None:
        """Draw a polyline as ink (anti-aliased) on a canvas and into its coverage."""
        pts = np.asarray(pts, np.float64)
        pad = thickness + 3
        x0, y0 = int(np.floor(pts[:, 0].min())) - pad, int(np.floor(pts[:, 1].min())) - pad
        x1, y1 = int(np.ceil(pts[:, 0].max())) + pad, int(np.ceil(pts[:, 1].max())) + pad
        ch, cw = canvas.cov.shape
        if x1 <= 0 or y1 <= 0 or x0 >= cw or y0 >= ch:
            return
        patch = np.zeros((y1 - y0, x1 - x0), np.uint8)
        fixed = np.round((pts - [x0, y0]) * 16).astype(np.int32)
        cv2.polylines(patch, [fixed], closed, 255, thickness, cv2.LINE_AA, shift=4)
        shape = patch.astype(np.float32) / 255
        self._lay_ink(canvas, shape, surfaces.marker_alpha(shape, self.rng), y0, x0, colour)
        canvas.occupied.append((x0 + pad, y0 + pad, x1 - pad, y1 - pad))

    def _dot(self, canvas: _Canvas, centre: tuple[float, float], radius: float, colour: np.ndarray) -> None:
        t = np.linspace(0, 2 * np.pi, 12)
        pts = np.stack([centre[0] + radius * 0.5 * np.cos(t), centre[1] + radius * 0.5 * np.sin(t)], 1)
        self._stroke(canvas, pts, max(1, int(radius)), colour, closed=True)

    def _arrow(self, canvas: _Canvas, style: _Style, p: tuple[float, float], q: tuple[float, float]) -> None:
        if q[0] - p[0] < 0.4 * style.em:
            return
        self._stroke(canvas, self._wobbly_line(p, q, style.em), style.stroke, style.colour)
        d = np.array(q) - np.array(p)
        d /= np.linalg.norm(d) + 1e-9
        head = 0.35 * style.em
        for sgn in (1, -1):
            a = np.deg2rad(150 * sgn)
            r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ d
            self._stroke(canvas, np.array([q, np.array(q) + r * head]), style.stroke, style.colour)

    def _bullet(self, canvas: _Canvas, style: _Style, kind: str, x: float, base: float) -> None:
        em = style.em
        y = base - 0.3 * em
        if kind == "dot":
            self._dot(canvas, (x + 0.15 * em, y), max(2.0, 0.12 * em), style.colour)
        elif kind == "dash":
            self._stroke(canvas, self._wobbly_line((x, y), (x + 0.4 * em, y), em), style.stroke, style.colour)
        elif kind == "box":
            s = 0.45 * em
            self._stroke(canvas, self._box_points((x, y - s / 2, x + s, y + s / 2)), max(1, style.stroke - 1), style.colour)
            if self.rng.random() < 0.5:  # ticked
                tick = np.array([[x + 0.1 * s, y], [x + 0.4 * s, y + 0.35 * s], [x + 1.1 * s, y - 0.7 * s]])
                self._stroke(canvas, tick, style.stroke, style.second)
        elif kind == "arrow":
            self._arrow(canvas, style, (x - 0.1 * em, y), (x + 0.55 * em, y))
        else:
            self._stroke(canvas, self._star(x + 0.25 * em, y, 0.25 * em), max(1, style.stroke - 1), style.colour, closed=True)

    def _star(self, cx: float, cy: float, r: float) -> np.ndarray:
        t = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)

    def _doodles(self, canvas: _Canvas, region: Rect, style: _Style, n: int) -> None:
        """Small drawings in free space: smileys, stars, hearts, spirals, clouds."""
        rng = self.rng
        x0, y0, x1, y1 = region
        for _ in range(n):
            s = style.em * rng.uniform(0.8, 2.0)
            for _ in range(15):
                cx, cy = rng.uniform(x0 + s, max(x0 + s + 1, x1 - s)), rng.uniform(y0 + s, max(y0 + s + 1, y1 - s))
                rect = (cx - s, cy - s, cx + s, cy + s)
                if not any(_overlaps(rect, r, style.em * 0.5) for r in canvas.occupied):
                    break
            else:
                continue
            colour = style.colour if rng.random() < 0.6 else style.second
            what = rng.choice(["smiley", "star", "heart", "spiral", "cloud"])
            t = np.linspace(0, 2 * np.pi, 48)
            if what == "smiley":
                self._stroke(canvas, self._ellipse_points(rect), style.stroke, colour)
                for ex in (-0.35, 0.35):
                    self._dot(canvas, (cx + ex * s, cy - 0.3 * s), max(2.0, 0.12 * s), colour)
                m = np.linspace(0.2 * np.pi, 0.8 * np.pi, 16)
                self._stroke(canvas, np.stack([cx + 0.55 * s * np.cos(m), cy + 0.55 * s * np.sin(m)], 1), style.stroke, colour)
            elif what == "star":
                self._stroke(canvas, self._wobble(self._star(cx, cy, s), 0.03 * s), style.stroke, colour, closed=True)
            elif what == "heart":
                hx = 16 * np.sin(t) ** 3
                hy = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
                self._stroke(canvas, np.stack([cx + hx * s / 17, cy + hy * s / 17], 1), style.stroke, colour)
            elif what == "spiral":
                u = np.linspace(0, 5 * np.pi, 80)
                rr = s * u / u[-1]
                self._stroke(canvas, np.stack([cx + rr * np.cos(u), cy + rr * np.sin(u)], 1), style.stroke, colour)
            else:
                bumps = 1 + 0.15 * np.abs(np.sin(4 * t))
                self._stroke(canvas, np.stack([cx + s * bumps * np.cos(t), cy + 0.6 * s * bumps * np.sin(t)], 1),
                             style.stroke, colour, closed=True)

    # ------------------------------------------------------------------ photo
    def _photograph(self, kind: str, page: _Canvas, pw: int, ph: int) -> tuple[np.ndarray, np.ndarray]:
        """Page into a scene, then light, lens and sensor. Full-resolution work is a handful of
        OpenCV passes on uint8 where possible; everything smooth is computed small and upsampled."""
        rng, cfg = self.rng, self.cfg
        W, H = cfg.size
        hom = self.homography
        scene = self._background(kind, W, H, pw, ph)
        page_u8 = cv2.convertScaleAbs(page.rgb, alpha=255.0)  # saturating float -> uint8
        cv2.warpPerspective(page_u8, hom, (W, H), dst=scene, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        cov = cv2.warpPerspective(page.cov, hom, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        _, mask = cv2.threshold(cov, int(cfg.ink_threshold * 255), 255, cv2.THRESH_BINARY)
        # Words are added from their own warps, which the boxes come from: mask and boxes agree
        # exactly even where a note's ink went through two interpolations.
        for word in self._words:
            x0, y0, x1, y1 = word.box
            mask[y0:y1, x0:x1][word.ink] = 255

        # Focus and hand shake first: on uint8 it is cheap, and the light below is smooth, so
        # the order hardly matters.
        r = rng.random()
        if r < 0.6:
            scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.4, 1.3))
        elif r < 0.75:
            k = int(rng.integers(3, 6))
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1
            rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
            kernel = cv2.warpAffine(kernel, rot, (k, k))
            scene = cv2.filter2D(scene, -1, kernel / max(float(kernel.sum()), 1e-6))

        # Lighting is affine per pixel (out = gain * img + offset: ramps and shadows scale,
        # glare adds light), so run surfaces.lighting on a black and a white 1/8-scale image with
        # the same random draws and recover gain and offset from the two.
        sh, sw = max(2, H // 8), max(2, W // 8)
        sub = np.random.default_rng(int(rng.integers(2 ** 63)))
        white = surfaces.lighting(np.ones((sh, sw, 1), np.float32), copy.deepcopy(sub))[..., 0]
        black = surfaces.lighting(np.zeros((sh, sw, 1), np.float32), sub)[..., 0]
        gain, offset = white - black, black
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        r2 = ((xx / sw - 0.5 + rng.normal(0, 0.05)) ** 2 + (yy / sh - 0.5 + rng.normal(0, 0.05)) ** 2) / 0.5
        vignette = 1 - rng.uniform(0.1, 0.45) * r2 ** rng.uniform(1.0, 1.6)  # lens falloff to the corners
        balance = (1 + rng.normal(0, 0.035, 3)) * rng.uniform(0.85, 1.1)  # white balance, exposure
        gain3 = (gain * vignette)[..., None] * balance.astype(np.float32)[None, None]
        gain3 = cv2.resize(gain3, (W, H), interpolation=cv2.INTER_LINEAR)
        # Sensor noise after demosaicing is spatially correlated: drawn at half scale, mostly luma.
        hh, hw = max(1, H // 2), max(1, W // 2)
        luma = rng.standard_normal((hh, hw), dtype=np.float32) * np.float32(rng.uniform(1.0, 6.0))
        add = cv2.resize(offset * vignette * 255, (hw, hh), interpolation=cv2.INTER_LINEAR) + luma
        add3 = cv2.resize(cv2.merge([add, add, add]), (W, H), interpolation=cv2.INTER_LINEAR)
        lit = cv2.multiply(scene, gain3, dtype=cv2.CV_32F)
        return cv2.add(lit, add3, dtype=cv2.CV_8U), mask  # saturating, rounded

    def _background(self, kind: str, W: int, H: int, pw: int, ph: int) -> np.ndarray:
        """Room or desk around the page, with the board frame, easel or notebook cover (uint8)."""
        rng = self.rng
        hom = self.homography
        q = 4  # smooth parts at quarter scale
        sh, sw = max(2, H // q + 1), max(2, W // q + 1)
        if kind == "notebook":
            desk = rng.choice(["wood", "plain", "dark"])
            if desk == "wood":
                colour = np.array([0.62, 0.42, 0.25], np.float32) * rng.uniform(0.7, 1.15)
                grain = cv2.resize(rng.uniform(-1, 1, (6, 120)).astype(np.float32), (sw, sh), interpolation=cv2.INTER_CUBIC)
                if rng.random() < 0.5:
                    grain = cv2.resize(cv2.resize(rng.uniform(-1, 1, (120, 6)).astype(np.float32), (sh, sw)).T, (sw, sh))
                bg = colour * (1 + 0.12 * grain[..., None])
            elif desk == "plain":
                tint = np.array([1.0, 0.97, 0.92], np.float32) * (1 + rng.normal(0, 0.03, 3)).astype(np.float32)
                bg = np.broadcast_to(tint * rng.uniform(0.5, 0.92), (sh, sw, 3)).copy()
            else:
                bg = np.broadcast_to(rng.uniform(0.1, 0.35, 3).astype(np.float32), (sh, sw, 3)).copy()
        else:
            walls = np.array([[0.86, 0.84, 0.78], [0.75, 0.78, 0.80], [0.90, 0.90, 0.88], [0.62, 0.66, 0.70],
                              [0.80, 0.72, 0.60], [0.70, 0.80, 0.72]], np.float32)
            bg = np.broadcast_to(walls[rng.integers(len(walls))] * rng.uniform(0.6, 1.0), (sh, sw, 3)).copy()
        bg *= (1 + surfaces.low_freq_noise(sh, sw, rng, cells=3) * 0.08)[..., None]
        # Soft shadow of the page/board on what is behind it.
        shadow = np.zeros((sh, sw), np.float32)
        off = rng.uniform(-0.015, 0.025, 2) * [pw, ph]
        grow = 0.02 * max(pw, ph)
        corners = _apply(hom, _rect_corners((-grow + off[0], -grow + off[1], pw + grow + off[0], ph + grow + off[1]))) / q
        cv2.fillConvexPoly(shadow, np.round(corners).astype(np.int32), 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), max(1.0, 0.01 * max(pw, ph) / q * rng.uniform(1, 3)))
        bg *= (1 - rng.uniform(0.2, 0.5) * shadow)[..., None]
        scene = cv2.resize(np.clip(bg * 255, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)

        def quad(r: Rect) -> np.ndarray:
            return np.round(_apply(hom, _rect_corners(r)) * 16).astype(np.int32)

        def fill(r: Rect, colour) -> None:
            cv2.fillConvexPoly(scene, quad(r), tuple(int(c) for c in colour), cv2.LINE_AA, shift=4)

        if kind in ("whiteboard", "sticky") and rng.random() < 0.85:
            t = max(pw, ph) * rng.uniform(0.012, 0.025)
            metal = rng.uniform(150, 215)
            fill((-t, -t, pw + t, ph + t), [metal * 0.8] * 3)
            fill((-t * 0.6, -t * 0.6, pw + t * 0.6, ph + t * 0.6), [metal] * 3)
            fill((-t * 0.15, -t * 0.15, pw + t * 0.15, ph + t * 0.15), [metal * 0.65] * 3)
            if rng.random() < 0.6:  # marker tray
                fill((0.05 * pw, ph + t * 0.8, 0.95 * pw, ph + t * 2.2), [metal * 0.7] * 3)
                for _ in range(int(rng.integers(0, 4))):
                    mx = rng.uniform(0.1, 0.85) * pw
                    c = surfaces.ink_colour(rng, "whiteboard") * 255
                    fill((mx, ph + t * 0.9, mx + 0.07 * pw, ph + t * 1.5), c)
        elif kind == "flipchart":
            fill((-0.02 * pw, -0.05 * ph, 1.02 * pw, 0.0), [rng.uniform(30, 90)] * 3)  # clamp bar
            for k in range(1, int(rng.integers(2, 5))):  # sheets underneath
                g = rng.uniform(200, 240)
                fill((-0.004 * k * pw, 0, pw + 0.004 * k * pw, ph + 0.006 * k * ph), [g, g, g * 0.97])
        elif kind == "notebook" and rng.random() < 0.5:
            cover = rng.uniform(0.05, 0.6, 3) * 255
            g = rng.uniform(0.01, 0.03) * max(pw, ph)
            fill((-g, -g, pw + g, ph + g), cover)
            if rng.random() < 0.5:  # spiral binding along the top or the left edge
                along_top = rng.random() < 0.5
                n = int(rng.integers(15, 30))
                for i in range(n):
                    u = (i + 0.5) / n
                    p = _apply(hom, np.array([[u * pw, 0.012 * ph] if along_top else [0.012 * pw, u * ph]]))[0]
                    cv2.circle(scene, (int(p[0]), int(p[1])), max(2, int(0.006 * max(pw, ph))), (40, 40, 45), -1, cv2.LINE_AA)
        return scene

    # ------------------------------------------------------------------ ground truth
    def _record(self, kind: str, W: int, H: int, quality: int) -> dict:
        def poly(p: np.ndarray) -> list[list[float]]:
            return [[round(float(x), 1), round(float(y), 1)] for x, y in p]

        words = [{"text": w.text, "box": list(w.box), "poly": poly(w.poly), "line": w.line} for w in self._words]
        lines = []
        for ids in self._lines:
            if not ids:
                continue
            ws = [self._words[i] for i in ids]
            canvas = self._canvases[ws[0].canvas]
            union = self._union([w.canvas_box for w in ws])
            line_poly = _apply(self.homography @ canvas.to_page, _rect_corners(union))
            box = self._union([w.box for w in ws])
            lines.append({"text": " ".join(w.text for w in ws), "box": [int(v) for v in box],
                          "poly": poly(line_poly), "type": LINE_TYPE})
        # Renumber word line indices to the lines actually written.
        index = {old: new for new, old in enumerate(i for i, ids in enumerate(self._lines) if ids)}
        for w in words:
            w["line"] = index[w["line"]]
        return {"width": W, "height": H, "scene": kind, "jpeg_quality": quality, "words": words, "lines": lines}


def write_page_set(out_dir: Path, n: int, fonts: list[FontSpec], seed: int = 0,
                   size: tuple[int, int] = (2000, 1500), cfg: PageConfig | None = None) -> Path:
    """Write n photos as out_dir/pages/pNNNN.jpg, their ink masks as out_dir/masks/pNNNN.png and
    the ground truth as out_dir/pages.jsonl; returns the pages.jsonl path."""
    out_dir = Path(out_dir)
    (out_dir / "pages").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    cfg = cfg or PageConfig()
    cfg = replace(cfg, size=(int(size[0]), int(size[1])), jpeg_in_render=False)
    renderer = PageRenderer(fonts, seed=seed, cfg=cfg)
    path = out_dir / "pages.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            page = renderer.render_detailed()
            name = f"p{i:04d}"
            # The encoded bytes are written as they are: one JPEG generation, as a phone makes.
            (out_dir / "pages" / f"{name}.jpg").write_bytes(page.jpeg)
            cv2.imwrite(str(out_dir / "masks" / f"{name}.png"), page.mask)
            f.write(json.dumps({"image": f"pages/{name}.jpg", "mask": f"masks/{name}.png", **page.record}) + "\n")
    return path
