"""`ocrsearch binarize`, `ocrsearch detect`, and the binarizer/detector train and eval commands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

# cv2, numpy and the image reader are imported inside the commands: every CLI start (a one-off
# `ocrsearch search` too) imports this module to register them, and those imports cost 0.1-0.2 s.


def draw_detections(rgb: np.ndarray, quads: list[np.ndarray], ink: np.ndarray | None = None) -> np.ndarray:
    """BGR uint8 picture: the photo, ink tinted orange (if given), quads in blue."""
    import cv2
    import numpy as np

    vis = rgb[:, :, ::-1].copy()
    if ink is not None:
        m = cv2.resize(ink, (vis.shape[1], vis.shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5
        vis[m] = (vis[m] * 0.35 + np.array([0, 160, 255]) * 0.65).astype(np.uint8)
    t = max(2, round(max(vis.shape[:2]) / 800))
    cv2.polylines(vis, [q.astype(np.int32) for q in quads], True, (255, 60, 0), t)
    return vis


DETECTOR_KINDS = ("ink", "kernel", "pipeline")
DETECTOR_HELP = ("ink (boxes from the ink map), kernel (the learned word-kernel net), or pipeline: the words "
                 "`read` keeps (both detectors folded, unreadable specks dropped; runs the recognizer too).")


HEAD_STRIDE_HELP = ("1, 2 or 4: the resolution below the input's at which the decoder stops and a sub-pixel head "
                    "predicts (faster; default: 1, or the --init weights' own).")


def _echo_step(row: tuple | str) -> None:
    """Progress of the U-Net trainer (binarizer and kernel detector): step, losses, pixel F; or a note."""
    typer.echo(row if isinstance(row, str) else "step {} train {:.4f} val {:.4f} F {:.2f}".format(*row[:4]))


def _pages(data: Path) -> list[dict]:
    return [json.loads(x) for x in (data / "pages.jsonl").read_text().splitlines() if x.strip()]


def _word_finder(detector_kind: str, weights: Optional[Path], kind: str, detector_weights: Optional[Path] = None):
    """`--detector` -> (a function photo -> (words, ink map or None), a version line). Words are dicts
    with box, quad [4, 2] and score; with "pipeline" (the words `read` keeps: both detectors folded,
    unreadable specks dropped) also text, the score being the reading's confidence."""
    import numpy as np

    if detector_kind not in DETECTOR_KINDS:
        raise typer.BadParameter(f"{detector_kind!r}: {', '.join(DETECTOR_KINDS)}", param_hint="--detector")
    if detector_kind == "pipeline":
        from ocrsearch.config import PipelineConfig
        from ocrsearch.pipeline import Pipeline

        config = PipelineConfig(binarizer=kind, binarizer_weights=weights, kernel_weights=detector_weights)
        pipeline = Pipeline.load(config)

        def read(rgb):
            return [{"box": w.box, "quad": np.asarray(w.quad, np.float32), "score": w.confidence, "text": w.text}
                    for w in pipeline.read(rgb).words], None

        return read, f"pipeline={pipeline.model_version}"
    if detector_kind == "kernel":
        from detector.learned import KernelDetector
        from ocrsearch.pipeline import NoInk

        binarizer, detector = NoInk(), KernelDetector.load(detector_weights)
    else:
        from detector import Detector

        binarizer, detector = _load_binarizer(weights, kind), Detector.load()

    def find(rgb):
        ink = binarizer.ink_map(rgb)
        words = [{"box": d.box, "quad": d.quad, "score": d.score} for d in detector.detect(rgb, ink)]
        return words, (ink if detector_kind == "ink" else None)

    return find, f"binarizer={binarizer.version} detector={detector.version}"


def register_vision_commands(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Attach the binarizer and detector commands to the CLI's groups."""

    @app.command("binarize")
    def binarize(
        photo: Path = typer.Argument(..., exists=True, dir_okay=False, help="Photo to binarize."),
        out: Path = typer.Option(..., "-o", "--out", help="Ink map PNG to write (black ink on white)."),
        weights: Path = typer.Option(None, help="Binarizer weights (default: shipped, else classical)."),
        prob: bool = typer.Option(False, help="Write the probability as grey levels instead of a 0/255 mask."),
        kind: str = typer.Option("unet", "--binarizer", envvar="OCRSEARCH_BINARIZER", help="unet (shipped or --weights) or classic."),
    ) -> None:
        """Write the ink map of PHOTO."""
        import cv2
        import numpy as np

        from ocrsearch.imageio import load_rgb
        ink = _load_binarizer(weights, kind)(load_rgb(photo))
        img = 255 - (ink * 255).round().astype(np.uint8) if prob else np.where(ink > 0.5, 0, 255).astype(np.uint8)
        if not cv2.imwrite(str(out), img):
            typer.echo(f"{out}: cannot write", err=True)
            raise typer.Exit(1)

    @app.command("detect")
    def detect(
        photo: Path = typer.Argument(..., exists=True, dir_okay=False, help="Photo to find words on."),
        out: Path = typer.Option(None, "-o", "--out", help="Picture with the word quads drawn."),
        as_json: bool = typer.Option(False, "--json", help="Print the quads as one JSON object."),
        weights: Path = typer.Option(None, help="Binarizer weights (default: shipped, else classical)."),
        kind: str = typer.Option("unet", "--binarizer", envvar="OCRSEARCH_BINARIZER", help="unet (shipped or --weights) or classic."),
        detector_kind: str = typer.Option("ink", "--detector", help=DETECTOR_HELP),
    ) -> None:
        """Find word boxes on PHOTO."""
        import cv2
        import numpy as np

        from ocrsearch.imageio import load_rgb

        find, _ = _word_finder(detector_kind, weights, kind)
        rgb = load_rgb(photo)
        words, ink = find(rgb)
        if out is not None:
            cv2.imwrite(str(out), draw_detections(rgb, [w["quad"] for w in words], ink))
        if as_json or out is None:
            typer.echo(json.dumps({
                "image": str(photo), "width": rgb.shape[1], "height": rgb.shape[0],
                "words": [{**w, "box": [int(v) for v in w["box"]], "quad": np.round(w["quad"], 1).tolist(),
                           "score": round(float(w["score"]), 4)} for w in words],
            }))

    @train_app.command("binarizer")
    def train_binarizer(
        data: Path = typer.Option(..., exists=True, file_okay=False, help="Folder with pages.jsonl and masks/."),
        out: Path = typer.Option(Path("runs/binarizer"), help="Run folder (best.pt, last.pt, log.csv)."),
        steps: int = typer.Option(2000, help="Optimiser steps."),
        batch_size: int = typer.Option(8),
        crop: int = typer.Option(320, help="Crop side in px (multiple of 16)."),
        lr: float = typer.Option(2e-3),
        encoder: str = typer.Option("mobilenet_v2", help="smp encoder name (random init)."),
        encoder_depth: int = typer.Option(4, help="Encoder stages (the input side must be a multiple of 2**depth)."),
        decoder_channels: str = typer.Option("128,64,32,16", help="Decoder channels, one per encoder stage."),
        scale_min: float = typer.Option(0.35, help="Smallest photo resize before cropping."),
        scale_max: float = typer.Option(0.8, help="Largest photo resize before cropping."),
        work_side: int = typer.Option(1280, help="Longest side the U-Net reads photos at (saved with the weights)."),
        threads: int = typer.Option(2, help="torch threads."),
        init: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                            help="Start from these weights (fine-tuning; their architecture is kept)."),
        val_every: int = typer.Option(200),
        seed: int = typer.Option(0),
        head_stride: Optional[int] = typer.Option(None, help=HEAD_STRIDE_HELP),
    ) -> None:
        """Train the binarizer U-Net; ship it by copying best.pt to binarizer/weights/binarizer.pt."""
        from binarizer.model import BinarizerModelConfig
        from binarizer.train import BinarizerTrainConfig, train

        channels = tuple(int(c) for c in decoder_channels.split(","))
        if len(channels) != encoder_depth:
            raise typer.BadParameter(f"{len(channels)} decoder channels for encoder depth {encoder_depth}",
                                     param_hint="--decoder-channels")
        cfg = BinarizerTrainConfig(data=data, out=out, steps=steps, batch_size=batch_size, crop=crop, lr=lr,
                                   val_every=min(val_every, steps), seed=seed, threads=threads,
                                   scale_range=(scale_min, scale_max), work_side=work_side, init=init,
                                   head_stride=head_stride,
                                   model=BinarizerModelConfig(encoder=encoder, encoder_depth=encoder_depth,
                                                              decoder_channels=channels, head_stride=head_stride or 1))
        best = train(cfg, progress=_echo_step)
        typer.echo(f"best: {best} -> {out / 'best.pt'}")

    @train_app.command("detector")
    def train_detector(
        data: str = typer.Option(..., help="Comma-separated page sets with word quads (pages.jsonl + pages/), "
                                           "such as `ocrsearch data pages` writes."),
        out: Path = typer.Option(Path("runs/detector"), help="Run folder (kernels/, best.pt, last.pt, log.csv)."),
        steps: int = typer.Option(2400, help="Optimiser steps."),
        batch_size: int = typer.Option(8),
        crop: int = typer.Option(320, help="Crop side in px (multiple of 16)."),
        lr: float = typer.Option(2e-3),
        scale_min: float = typer.Option(0.3, help="Smallest photo resize before cropping."),
        scale_max: float = typer.Option(0.7, help="Largest photo resize before cropping."),
        work_side: int = typer.Option(1280, help="Longest side the U-Net reads photos at (saved with the weights)."),
        threads: int = typer.Option(2, help="torch threads."),
        init: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                            help="Start from these weights (default: the shipped binarizer, whose "
                                                 "ink features transfer)."),
        val_every: int = typer.Option(300),
        seed: int = typer.Option(3),
        head_stride: Optional[int] = typer.Option(None, help=HEAD_STRIDE_HELP),
    ) -> None:
        """Train the word-kernel detector (the U-Net of `--detector kernel` and `both`): each word quad of the
        sets is shrunk to a kernel mask (OUT/kernels/), and the binarizer's trainer learns those masks.
        Ship with `cp OUT/best.pt detector/weights/kernel.pt && ocrsearch export binarizer --weights
        detector/weights/kernel.pt` (detector/weights/README.md has the shipped recipe)."""
        from binarizer.infer import DEFAULT_WEIGHTS
        from binarizer.train import BinarizerTrainConfig, train
        from detector.regions import write_kernel_set

        sources = [Path(p) for p in data.split(",") if p]
        for source in sources:
            if not (source / "pages.jsonl").is_file():
                raise typer.BadParameter(f"{source}: no pages.jsonl (a page set with word quads)", param_hint="--data")
        start = init if init is not None else DEFAULT_WEIGHTS
        if not start.exists():
            raise typer.BadParameter(f"{start}: no weights to start from", param_hint="--init")
        kernels = out / "kernels"
        pages = write_kernel_set(sources, kernels)
        typer.echo(f"{pages} pages of word kernels in {kernels}")
        cfg = BinarizerTrainConfig(data=kernels, out=out, steps=steps, batch_size=batch_size, crop=crop, lr=lr,
                                   val_every=min(val_every, steps), seed=seed, threads=threads,
                                   scale_range=(scale_min, scale_max), work_side=work_side, init=start,
                                   head_stride=head_stride)
        best = train(cfg, progress=_echo_step)
        typer.echo(f"best: {best} -> {out / 'best.pt'}")

    @eval_app.command("binarizer")
    def eval_binarizer(
        data: Path = typer.Option(..., exists=True, file_okay=False, help="Folder with pages.jsonl and masks/."),
        weights: Path = typer.Option(None, help="Binarizer weights (default: shipped, else classical)."),
        limit: int = typer.Option(0, help="Only the first N pages (0 = all)."),
        kind: str = typer.Option("unet", "--binarizer", help="unet (shipped or --weights U-Net) or classic."),
    ) -> None:
        """DIBCO F-measure and PSNR of the ink map against masks/<stem>.png, and seconds per photo."""
        import cv2
        import numpy as np

        from ocrsearch.imageio import load_rgb
        from detector.metrics import binarization_scores

        binarizer = _load_binarizer(weights, kind)
        fs, ps, secs = [], [], 0.0
        rows = _pages(data)[: limit or None]
        for row in rows:
            image = data / row["image"]
            mask = cv2.imread(str(data / "masks" / f"{image.stem}.png"), cv2.IMREAD_GRAYSCALE)
            if mask is None:
                continue
            rgb = load_rgb(image)
            t = time.perf_counter()
            ink = binarizer(rgb)
            secs += time.perf_counter() - t
            f, p = binarization_scores(ink > 0.5, mask > 127)
            fs.append(f)
            ps.append(p)
        if not fs:
            typer.echo(f"{data}: no pages with masks", err=True)
            raise typer.Exit(1)
        typer.echo(f"binarizer={binarizer.version} pages={len(fs)} F-measure={np.mean(fs):.2f} "
                   f"PSNR={np.mean(ps):.2f} dB s/photo={secs / len(fs):.3f}")

    @eval_app.command("detector")
    def eval_detector(
        data: Path = typer.Option(..., exists=True, file_okay=False, help="Folder with pages.jsonl and pages/."),
        weights: Path = typer.Option(None, help="Binarizer weights (default: shipped, else classical)."),
        limit: int = typer.Option(0, help="Only the first N pages (0 = all)."),
        line_type: str = typer.Option("Handwritten", help="Line coverage: only lines whose type contains this."),
        per_page: bool = typer.Option(False, help="Print a line per page."),
        kind: str = typer.Option("unet", "--binarizer", help="unet (shipped or --weights U-Net) or classic."),
        detector_kind: str = typer.Option("ink", "--detector", help=DETECTOR_HELP),
        detector_weights: Path = typer.Option(None, help="Kernel detector weights (default: detector/weights/kernel.pt)."),
    ) -> None:
        """Word P/R/F1 at IoU .5 and .3 (pages with word boxes), line coverage (pages with line boxes), s/photo."""
        import cv2
        import numpy as np

        from ocrsearch.imageio import load_rgb
        from detector.metrics import DetectionScore, line_coverage

        find, version = _word_finder(detector_kind, weights, kind, detector_weights)
        s5, s3 = DetectionScore(0.5), DetectionScore(0.3)
        coverages: list[float] = []
        secs, n = 0.0, 0
        for row in _pages(data)[: limit or None]:
            rgb = load_rgb(data / row["image"])
            t = time.perf_counter()
            pred = [w["box"] for w in find(rgb)[0]]
            secs += time.perf_counter() - t
            n += 1
            gt = [w["box"] for w in row.get("words", [])]
            if gt:
                s5.add(pred, gt)
                s3.add(pred, gt)
            lines = [ln["box"] for ln in row.get("lines", []) if line_type in ln.get("type", line_type)]
            page_cov = [line_coverage(pred, box) for box in lines]
            coverages += page_cov
            if per_page:
                one = DetectionScore(0.5)
                one.add(pred, gt)
                cov = f" line_cov={np.mean(page_cov):.3f}" if page_cov else ""
                typer.echo(f"{row['image']} pred={len(pred)} gt={len(gt)} F1={one.f1:.3f}{cov}")
        if s5.n_gt:
            typer.echo(f"words: IoU.5 P={s5.precision:.3f} R={s5.recall:.3f} F1={s5.f1:.3f} | "
                       f"IoU.3 P={s3.precision:.3f} R={s3.recall:.3f} F1={s3.f1:.3f} (gt={s5.n_gt} pred={s5.n_pred})")
        if coverages:
            cov = np.asarray(coverages)
            typer.echo(f"lines ({line_type}): n={len(cov)} mean coverage={cov.mean():.3f} "
                       f"covered>=0.5: {np.mean(cov >= 0.5):.3f} covered>=0.8: {np.mean(cov >= 0.8):.3f}")
        timed = "read" if detector_kind == "pipeline" else "binarize+detect"
        typer.echo(f"pages={n} {version} s/photo={secs / max(n, 1):.3f} ({timed})")


def _load_binarizer(weights: Optional[Path], kind: str = "unet"):
    """The classical binarizer, or the U-Net from the shipped or given weights."""
    from binarizer import Binarizer

    if kind not in ("unet", "classic"):
        raise typer.BadParameter(f"{kind!r}: unet or classic", param_hint="--binarizer")
    return Binarizer() if kind == "classic" else Binarizer.load(weights)
