"""Binarizer contracts: ink probability maps in [0,1] at photo size, tiling covers every pixel,
the classical fallback finds dark and coloured ink under uneven light, and training runs end to end
on a tiny in-memory-made data folder (never on shipped weights)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from binarizer import Binarizer
from binarizer.classic import classic_ink
from binarizer.infer import TilingConfig, load_model, predict_tiled, tile_starts
from binarizer.model import BinarizerModelConfig, BinarizerNet
from detector.metrics import binarization_scores

SMALL_NET = BinarizerModelConfig(encoder="resnet18", encoder_depth=3, decoder_channels=(16, 8, 8))


def synthetic_page(h: int = 240, w: int = 320, colour=(20, 40, 160), shade: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A page with text drawn by cv2.putText under a light gradient: (rgb uint8, ink mask bool)."""
    mask = np.zeros((h, w), np.uint8)
    for i, word in enumerate(["hello world", "ink test", "board 42"]):
        cv2.putText(mask, word, (15, 60 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 3)
    bg = np.full((h, w, 3), 235, np.float32)
    if shade:
        bg *= np.linspace(0.55, 1.0, w, dtype=np.float32)[None, :, None]  # shadow on the left
    rgb = bg.copy()
    rgb[mask > 0] = np.asarray(colour, np.float32)
    return rgb.clip(0, 255).astype(np.uint8), mask > 0


def test_classic_fallback_when_no_weights(tmp_path: Path) -> None:
    """Without weights the shipped interface still works: classical maps in [0,1] at photo size."""
    binarizer = Binarizer()
    assert binarizer.kind == "classic"
    rgb, _ = synthetic_page()
    ink = binarizer(rgb)
    assert ink.shape == rgb.shape[:2] and ink.dtype == np.float32
    assert 0.0 <= float(ink.min()) and float(ink.max()) <= 1.0
    with pytest.raises(FileNotFoundError):
        Binarizer.load(tmp_path / "missing.pt")


@pytest.mark.parametrize("colour", [(20, 20, 20), (20, 40, 160), (170, 30, 30), (30, 120, 50)])
def test_classic_finds_coloured_ink_in_shadow(colour) -> None:
    """Dark and coloured markers are found on a page half in shadow (F-measure > 85%)."""
    rgb, gt = synthetic_page(colour=colour)
    f, psnr = binarization_scores(classic_ink(rgb) > 0.5, gt)
    assert f > 85.0, f
    assert psnr > 12.0


def test_classic_blank_page_has_no_ink() -> None:
    """A blank page with a soft gradient gives (almost) no ink."""
    rgb, _ = synthetic_page()
    blank = np.full_like(rgb, 230)
    blank = (blank * np.linspace(0.5, 1.0, blank.shape[1])[None, :, None]).astype(np.uint8)
    assert (classic_ink(blank) > 0.5).mean() < 0.001


def test_classic_page_edge_is_not_ink() -> None:
    """The border between a bright page and a dark desk is not a line of ink (the background
    estimate must not bleed across it), while writing on the page still is."""
    rgb = np.full((1200, 1600, 3), (70, 55, 45), np.uint8)  # desk
    page = np.array([[300, 150], [1300, 190], [1270, 1100], [270, 1060]], np.int32)
    cv2.fillPoly(rgb, [page], (232, 232, 228))
    cv2.putText(rgb, "edge test", (420, 600), cv2.FONT_HERSHEY_SIMPLEX, 3.0, (30, 30, 30), 8)
    band = np.zeros(rgb.shape[:2], np.uint8)
    cv2.polylines(band, [page], True, 1, 12)  # +-6 px around the page's border
    ink = classic_ink(rgb) > 0.5
    assert ink[band > 0].mean() < 0.01
    assert ink[520:620, 420:1000].mean() > 0.1


def test_ink_map_keeps_aspect_ratio() -> None:
    rgb = np.full((3000, 4000, 3), 220, np.uint8)
    ink = Binarizer().ink_map(rgb)
    assert max(ink.shape) <= 1600 and abs(ink.shape[1] / ink.shape[0] - 4 / 3) < 0.01


@pytest.mark.parametrize("length,tile,overlap", [(100, 128, 32), (128, 128, 32), (300, 128, 32), (1000, 512, 32)])
def test_tile_starts_cover_with_overlap(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile >= length
    for a, b in zip(starts, starts[1:]):
        assert b - a <= tile - overlap


def test_tiled_prediction_matches_whole_image() -> None:
    """Tiling changes nothing far from tile borders and covers every pixel (odd sizes too)."""
    torch.manual_seed(0)
    model = BinarizerNet(SMALL_NET).eval()
    rgb = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    tiled = predict_tiled(model, rgb, TilingConfig(tile=96, overlap=32))
    assert tiled.shape == (200, 300) and np.isfinite(tiled).all()
    assert 0.0 <= tiled.min() and tiled.max() <= 1.0
    whole = predict_tiled(model, rgb, TilingConfig(tile=512, overlap=32))  # one tile
    assert np.abs(tiled - whole).mean() < 0.05


def _tiny_data(root: Path, n: int = 3) -> Path:
    (root / "pages").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for i in range(n):
        rgb, mask = synthetic_page(colour=(20, 20 + 40 * i, 60))
        cv2.imwrite(str(root / "pages" / f"p{i}.jpg"), rgb[:, :, ::-1])
        cv2.imwrite(str(root / "masks" / f"p{i}.png"), mask.astype(np.uint8) * 255)
        rows.append(json.dumps({"image": f"pages/p{i}.jpg", "words": [], "lines": []}))
    (root / "pages.jsonl").write_text("\n".join(rows) + "\n")
    return root


def test_training_runs_and_checkpoint_loads(tmp_path: Path) -> None:
    """A few steps write best.pt / log.csv; the checkpoint loads into a working Binarizer."""
    from binarizer.train import BinarizerTrainConfig, train

    data = _tiny_data(tmp_path / "data")
    cfg = BinarizerTrainConfig(data=data, out=tmp_path / "run", steps=3, batch_size=2, crop=96,
                               scale_range=(0.5, 0.8), val_every=3, model=SMALL_NET)
    best = train(cfg)
    assert "val_f" in best and (tmp_path / "run" / "best.pt").exists()
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 2
    model = load_model(tmp_path / "run" / "best.pt")
    assert isinstance(model, BinarizerNet)
    binarizer = Binarizer.load(tmp_path / "run" / "best.pt")
    assert binarizer.kind == "unet"
    rgb, _ = synthetic_page()
    ink = binarizer(rgb)
    assert ink.shape == rgb.shape[:2] and 0.0 <= ink.min() and ink.max() <= 1.0


def _trained_checkpoint(tmp_path: Path, work_side: int = 640) -> Path:
    from binarizer.train import BinarizerTrainConfig, train

    data = _tiny_data(tmp_path / "data", n=2)
    cfg = BinarizerTrainConfig(data=data, out=tmp_path / "run", steps=2, batch_size=2, crop=96,
                               scale_range=(0.5, 0.8), val_every=2, work_side=work_side, model=SMALL_NET)
    train(cfg)
    return tmp_path / "run" / "best.pt"


def test_checkpoint_records_the_working_side_the_binarizer_reads_at(tmp_path: Path) -> None:
    weights = _trained_checkpoint(tmp_path, work_side=640)
    binarizer = Binarizer.load(weights)
    assert binarizer.tiling.work_side == 640
    rgb, _ = synthetic_page(480, 960)
    assert binarizer.ink_map(rgb).shape == (320, 640)  # longest side brought to 640
    # a side asked for (small print wants more pixels) wins over the saved one
    assert Binarizer.load(weights, work_side=800).ink_map(rgb).shape == (400, 800)


def test_onnx_export_reads_like_torch_and_is_preferred(tmp_path: Path) -> None:
    """The export beside the weights is used when it came from them; its ink maps equal torch's."""
    from binarizer.export import export_checkpoint

    weights = _trained_checkpoint(tmp_path)
    path, worst, int8 = export_checkpoint(weights)
    assert path == weights.with_suffix(".onnx") and worst < 1e-3 and int8 is None
    with_onnx, with_torch = Binarizer.load(weights), Binarizer.load(weights, backend="torch")
    assert (with_onnx.backend, with_torch.backend) == ("onnx", "torch")
    assert with_onnx.tiling.work_side == with_torch.tiling.work_side == 640
    assert with_onnx.version == with_torch.version  # same weights, same stored readings
    rgb, _ = synthetic_page(250, 330)  # not a multiple of the stride: padded and cut back
    a, b = with_onnx(rgb), with_torch(rgb)
    assert a.shape == b.shape == rgb.shape[:2]
    assert np.abs(a - b).max() < 1e-3


def test_stale_onnx_export_is_not_used(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Retrained weights beside an old export read with torch, and the user is told to re-export."""
    from binarizer.export import export_checkpoint

    weights = _trained_checkpoint(tmp_path)
    export_checkpoint(weights)
    model = load_model(weights)
    with torch.no_grad():
        next(model.parameters()).add_(0.5)
    from binarizer.infer import save_model

    save_model(model, weights, {"work_side": 640})
    binarizer = Binarizer.load(weights)
    assert binarizer.backend == "torch"
    assert "re-export" in capsys.readouterr().err


def test_shipped_unet_reads_through_its_current_onnx_export() -> None:
    """The shipped pair is consistent: retraining without re-exporting would silently import torch."""
    from binarizer.infer import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no U-Net weights ship")
    binarizer = Binarizer.load()
    assert binarizer.kind == "unet" and binarizer.backend == "onnx"
    rgb, truth = synthetic_page()
    ink = binarizer(rgb)
    f, _ = binarization_scores(ink > 0.5, truth)
    assert f > 50  # it finds the ink of a page it never saw (not a tuned figure: a sanity floor)


def test_pipeline_binarizer_choice() -> None:
    """--binarizer classic gives the classical binarizer even where U-Net weights ship."""
    from binarizer.infer import DEFAULT_WEIGHTS
    from ocrsearch.config import PipelineConfig
    from ocrsearch.pipeline import Pipeline

    assert Pipeline.load(PipelineConfig(binarizer="classic")).binarizer.kind == "classic"
    expected = "unet" if DEFAULT_WEIGHTS.exists() else "classic"
    assert Pipeline.load(PipelineConfig()).binarizer.kind == expected


def test_fine_tuning_starts_from_the_given_weights(tmp_path: Path) -> None:
    """--init keeps the checkpoint's architecture (whatever the default model is) and its weights."""
    from binarizer.train import BinarizerTrainConfig, train

    weights = _trained_checkpoint(tmp_path)
    start = load_model(weights)
    cfg = BinarizerTrainConfig(data=tmp_path / "data", out=tmp_path / "ft", steps=1, batch_size=2, crop=96,
                               scale_range=(0.5, 0.8), val_every=1, lr=1e-9, init=weights)
    train(cfg)
    tuned = load_model(tmp_path / "ft" / "last.pt")
    assert tuned.cfg == start.cfg == SMALL_NET
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["model"]["encoder"] == SMALL_NET.encoder
    a, b = start.state_dict(), tuned.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-3) for k in a if "running" not in k and "num_batches" not in k)


@pytest.mark.parametrize("head_stride", [2, 4])
def test_a_coarser_head_keeps_the_encoder_and_reads_at_full_size(tmp_path: Path, head_stride: int) -> None:
    """--head-stride 2/4 from a stride-1 checkpoint: the encoder (and the decoder blocks kept) start from
    its weights, only the new head is random; the map still comes out at the photo's size, through ONNX
    as through torch."""
    from binarizer.export import export_checkpoint
    from binarizer.train import BinarizerTrainConfig, init_model, train

    weights = _trained_checkpoint(tmp_path)
    start = load_model(weights)
    adapted, new = init_model(weights, head_stride)
    assert adapted.cfg.head_stride == head_stride and new and all(k.startswith("unet.segmentation_head") for k in new)
    a, b = start.state_dict(), adapted.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b if k.startswith("unet.encoder"))
    cfg = BinarizerTrainConfig(data=tmp_path / "data", out=tmp_path / "hs", steps=2, batch_size=2, crop=96,
                               scale_range=(0.5, 0.8), val_every=2, init=weights, head_stride=head_stride)
    train(cfg)
    tuned = tmp_path / "hs" / "best.pt"
    assert load_model(tuned).cfg.head_stride == head_stride
    _, worst, _ = export_checkpoint(tuned)
    assert worst < 1e-3
    rgb, _ = synthetic_page(250, 330)
    with_onnx, with_torch = Binarizer.load(tuned), Binarizer.load(tuned, backend="torch")
    assert with_onnx.backend == "onnx"
    assert with_onnx(rgb).shape == with_torch(rgb).shape == rgb.shape[:2]
    assert np.abs(with_onnx(rgb) - with_torch(rgb)).max() < 1e-3


def test_int8_export_is_checked_and_named(tmp_path: Path) -> None:
    """`export binarizer --calibration` quantizes and checks the int8 ink masks against the float ones:
    below the required agreement nothing is written; the version names an int8 export, so stored
    readings tell which one read them. (A 2-step network sits near p = 0.5, where int8 flips many
    pixels, so the required agreement is set here rather than measured.)"""
    from binarizer.export import export_checkpoint

    weights = _trained_checkpoint(tmp_path)
    float_version = Binarizer.load(weights, backend="torch").version
    with pytest.raises(RuntimeError, match="not written"):
        export_checkpoint(weights, calibration=tmp_path / "data", min_agreement=1.01)
    assert not weights.with_suffix(".onnx").exists()
    path, _, agreement = export_checkpoint(weights, calibration=tmp_path / "data", min_agreement=0.0)
    assert path.exists() and 0.0 < agreement <= 1.0
    int8 = Binarizer.load(weights)
    assert int8.backend == "onnx" and int8.version == float_version + "-int8"
    rgb, _ = synthetic_page()
    assert int8(rgb).shape == rgb.shape[:2]
