"""The learned detector's word kernels: targets shrink each quad so touching words come apart, and
growing the kernels back gives the words' quads; the detector maps them to photo pixels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.learned import KernelDetector
from detector.metrics import iou_matrix, match_count
from detector.regions import KernelConfig, kernel_mask, kernels_to_quads, shrink_quad, write_kernel_set


def _rotated_quad(cx: float, cy: float, w: float, h: float, deg: float) -> list[list[float]]:
    t = np.deg2rad(deg)
    along, across = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    c = np.array([cx, cy])
    return [list(c - along * w / 2 - across * h / 2), list(c + along * w / 2 - across * h / 2),
            list(c + along * w / 2 + across * h / 2), list(c - along * w / 2 + across * h / 2)]


def _boxes(quads) -> np.ndarray:
    return np.array([[q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()] for q in map(np.asarray, quads)])


def test_shrink_moves_each_side_in_by_a_share_of_the_height_and_keeps_narrow_words() -> None:
    wide = shrink_quad([[0, 0], [100, 0], [100, 20], [0, 20]], 0.3)
    assert np.allclose(wide, [[6, 6], [94, 6], [94, 14], [6, 14]])
    narrow = shrink_quad([[0, 0], [10, 0], [10, 40], [0, 40]], 0.3)  # "I": 10 wide, 40 tall
    assert np.allclose(narrow, [[3, 12], [7, 12], [7, 28], [3, 28]])


@pytest.mark.parametrize("deg", [0.0, 7.0, -12.0])
def test_kernels_grow_back_into_the_words_they_came_from(deg: float) -> None:
    """Words 0.3 heights apart, on lines whose boxes touch, a narrow "I" among them: the kernel mask
    keeps them apart and every word comes back at IoU >= 0.7 (a 6 px kernel of the rotated "I" rasterises coarsely)."""
    words = []
    for row in range(3):
        x = 40.0
        for width in (120, 16, 60, 200):
            words.append({"poly": _rotated_quad(x + width / 2, 60 + row * 42, width, 40, deg)})
            x += width + 12
    mask = kernel_mask(words, 700, 260, KernelConfig.shrink)
    quads = kernels_to_quads(mask.astype(np.float32) / 255, KernelConfig(grow=0.3 / 0.4))  # exact undo
    truth = _boxes([w["poly"] for w in words])
    assert len(quads) == len(words)
    assert match_count(_boxes(quads), truth, iou=0.7) == len(words)
    for q in quads:  # clockwise from the top-left of the text
        assert q[0, 0] < q[1, 0] and q[1, 1] < q[2, 1]


def test_specks_below_min_area_are_dropped() -> None:
    prob = np.zeros((50, 50), np.float32)
    prob[10:12, 10:12] = 1.0
    prob[30:36, 5:40] = 1.0
    assert len(kernels_to_quads(prob, KernelConfig(min_area=6))) == 1


def test_write_kernel_set_points_at_the_source_photos(tmp_path: Path) -> None:
    source = tmp_path / "pages-x"
    (source / "pages").mkdir(parents=True)
    cv2.imwrite(str(source / "pages" / "p0.jpg"), np.full((60, 120, 3), 200, np.uint8))
    row = {"image": "pages/p0.jpg", "width": 120, "height": 60,
           "words": [{"text": "budget", "poly": [[10, 10], [110, 10], [110, 50], [10, 50]]}]}
    (source / "pages.jsonl").write_text(json.dumps(row) + "\n")

    assert write_kernel_set([source], tmp_path / "kernels") == 1
    out = json.loads((tmp_path / "kernels" / "pages.jsonl").read_text())
    image = tmp_path / "kernels" / out["image"]
    mask = cv2.imread(str(tmp_path / "kernels" / out["mask"]), cv2.IMREAD_GRAYSCALE)
    assert cv2.imread(str(image)).shape == (60, 120, 3)
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (22, 98, 22, 38)


class HalfScaleKernels:
    """A network whose kernel map is at half the photo's scale: one word kernel."""

    _tag = "test"

    def ink_map(self, rgb: np.ndarray) -> np.ndarray:
        prob = np.zeros((rgb.shape[0] // 2, rgb.shape[1] // 2), np.float32)
        prob[16:24, 16:84] = 1.0  # kernel of a 20 px tall word at half scale
        return prob


def test_kernel_detector_reports_quads_in_photo_pixels() -> None:
    detector = KernelDetector(HalfScaleKernels(), KernelConfig(grow=0.3 / 0.4))
    (det,) = detector.detect(np.zeros((100, 200, 3), np.uint8))
    assert iou_matrix(np.array([det.box]), np.array([[20, 20, 180, 60]]))[0, 0] > 0.85
    assert detector.version == "detector-kernel-test"


def test_kernel_detector_without_weights_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no learned detector weights"):
        KernelDetector.load(tmp_path / "kernel.pt")


def test_read_refuses_an_unknown_detector(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ocrsearch.cli import app

    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.full((40, 40, 3), 255, np.uint8))
    result = CliRunner().invoke(app, ["read", str(photo), "--detector", "nope"])
    assert result.exit_code == 2 and "ink, kernel or both" in result.output


def test_pipeline_with_the_shipped_kernel_detector_finds_a_rendered_word() -> None:
    """The shipped kernel network finds a written word on a plain page as one box around its ink."""
    from detector.learned import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.with_suffix(".onnx").exists():
        pytest.skip("no shipped kernel detector")
    rgb, truth = _written_word((800, 1280), (500, 400), 1.2, 3)  # 37 px tall, as on our training pages
    boxes = np.array([d.box for d in KernelDetector.load().detect(rgb)])
    assert len(boxes) == 1 and iou_matrix(boxes, truth).max() > 0.8


def _written_word(size: tuple[int, int], origin: tuple[int, int], scale: float, thickness: int):
    """A page with "budget" written on it, and the box around its ink [[x0, y0, x1, y1]]."""
    rgb = np.full((*size, 3), 235, np.uint8)
    cv2.putText(rgb, "budget", origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (30, 30, 120), thickness)
    ink = np.argwhere(rgb.min(axis=2) < 150)
    return rgb, np.array([[ink[:, 1].min(), ink[:, 0].min(), ink[:, 1].max(), ink[:, 0].max()]])


def test_kernel_detector_reads_at_the_working_side_it_is_given() -> None:
    """`work_side` sets the side the network reads the photo at; the quads stay in photo pixels."""
    from detector.learned import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.with_suffix(".onnx").exists():
        pytest.skip("no shipped kernel detector")
    rgb, truth = _written_word((800, 1600), (600, 400), 1.8, 4)
    detector = KernelDetector.load(work_side=960)
    assert detector.kernel_map(rgb).shape == (480, 960)
    boxes = np.array([d.box for d in detector.detect(rgb)])
    assert len(boxes) == 1 and iou_matrix(boxes, truth).max() > 0.7


def test_pipeline_with_both_detectors_loads_the_kernel_net_beside_the_ink_detector() -> None:
    from detector.learned import DEFAULT_WEIGHTS
    from ocrsearch.config import PipelineConfig
    from ocrsearch.pipeline import Pipeline

    if not DEFAULT_WEIGHTS.with_suffix(".onnx").exists():
        pytest.skip("no shipped kernel detector")
    pipeline = Pipeline.load(PipelineConfig(detector="both", fold_kernel_side=960))
    assert pipeline.second_detector.network.tiling.work_side == 960
    assert "detector-kernel-" in pipeline.model_version and "detector-ink" in pipeline.model_version


def test_train_detector_command_learns_kernels_and_its_weights_load(tmp_path: Path) -> None:
    """`ocrsearch train detector` writes kernel masks from a page set's word quads and runs a few
    steps of the U-Net trainer from the shipped binarizer; the best checkpoint loads as a kernel
    detector that reads a photo."""
    from typer.testing import CliRunner

    from ocrsearch.cli import app

    source = tmp_path / "pages-tiny"
    (source / "pages").mkdir(parents=True)
    rows = []
    for i in range(4):
        photo = np.full((160, 256, 3), 215, np.uint8)
        words = []
        for j, text in enumerate(["plan", "budget"]):
            x, y = 20 + 110 * j, 60 + 50 * (i % 2)
            cv2.putText(photo, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (40, 40, 120), 2)
            (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)
            words.append({"text": text, "poly": [[x, y - h], [x + w, y - h], [x + w, y + 4], [x, y + 4]]})
        cv2.imwrite(str(source / "pages" / f"p{i}.jpg"), photo)
        rows.append(json.dumps({"image": f"pages/p{i}.jpg", "width": 256, "height": 160, "words": words}))
    (source / "pages.jsonl").write_text("\n".join(rows) + "\n")

    run = tmp_path / "run"
    args = ["train", "detector", "--data", str(source), "--out", str(run), "--steps", "2", "--batch-size", "2",
            "--crop", "96", "--val-every", "2", "--work-side", "256"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "4 pages of word kernels" in result.output and (run / "best.pt").exists()
    mask = cv2.imread(str(run / "kernels" / "masks" / "pages-tiny-p0.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (160, 256) and 0 < (mask > 0).mean() < 0.2  # kernels inside the two words only
    detector = KernelDetector.load(run / "best.pt")
    photo = cv2.imread(str(source / "pages" / "p0.jpg"))[:, :, ::-1].copy()
    assert isinstance(detector.detect(photo, np.zeros((1, 1), np.float32)), list)
    missing = CliRunner().invoke(app, ["train", "detector", "--data", str(tmp_path / "nowhere"), "--out", str(run)])
    assert missing.exit_code == 2 and "nowhere" in missing.output
