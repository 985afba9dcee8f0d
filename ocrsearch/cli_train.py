"""`ocrsearch train ...` and `ocrsearch eval ...` for the models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ocrsearch.config import RECOGNIZE_STRETCH_BELOW

train_app = typer.Typer(help="Train a model.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure a model on a labelled set.", no_args_is_help=True)
export_app = typer.Typer(help="Export a model for faster inference.", no_args_is_help=True)


@train_app.command("recognizer")
def train_recognizer(
    data: list[str] = typer.Option(..., "--data", help="Training set(s): packed cache, labels.tsv folder, pages.jsonl, IAM words.txt, MJSynth annotation file."),
    stage: str = typer.Option("synth", help="synth | finetune | wild (recorded with the weights)."),
    val_data: list[str] = typer.Option([], "--val-data", help="Validation set(s); default: a split of --data."),
    val_fraction: float = typer.Option(0.02, help="Share of --data held out when no --val-data."),
    init: Optional[Path] = typer.Option(None, help="Start from these weights (previous stage)."),
    out: Path = typer.Option(Path("runs/recognizer"), help="Run folder: best.pt, last.pt, log.csv, loss.png."),
    epochs: int = typer.Option(10),
    max_steps: Optional[int] = typer.Option(None),
    max_minutes: Optional[float] = typer.Option(None, help="Stop (and validate) after this much training time."),
    session_minutes: Optional[float] = typer.Option(
        None, help="Stop this run after N minutes, checkpointed, keeping the --max-minutes schedule for a resume."),
    batch_size: int = typer.Option(64),
    lr: float = typer.Option(1e-3),
    val_every: int = typer.Option(500, help="Validate and checkpoint every N steps."),
    patience: int = typer.Option(8, help="Early stopping: validations without improvement."),
    select_by: str = typer.Option("loss", "--select-by",
                                  help="What best.pt keeps: the lowest validation loss, or the lowest greedy CER (cer)."),
    seed: int = typer.Option(0),
    threads: Optional[int] = typer.Option(None, help="torch threads (default: all cores)."),
    augment: bool = typer.Option(True),
    distort: float = typer.Option(0.0, help="Share of training strips also slanted, squashed, wobbled and re-stroked."),
    rnn: str = typer.Option("lstm", help="lstm or gru (new models only)."),
    channels: Optional[str] = typer.Option(None, help="Backbone widths of a new model, 5 numbers: 32,64,128,160,256 by default."),
    rnn_hidden: Optional[int] = typer.Option(None, help="BiLSTM/GRU units per direction of a new model (default 128)."),
    workers: int = typer.Option(0, help="Data-loading processes (0: in the training process)."),
    device: str = typer.Option("auto", help="auto (a GPU when there is one), cpu or cuda."),
) -> None:
    """Train the CRNN recognizer with CTC; resumes from OUT/last.pt if present."""
    from data.readers import open_dataset
    from recognizer.train import SELECT_BY, TrainConfig, train

    if select_by not in SELECT_BY:
        raise typer.BadParameter(f"{select_by!r}: expected {' or '.join(SELECT_BY)}", param_hint="--select-by")
    model: dict = {"rnn": rnn}
    if channels:
        try:
            model["channels"] = tuple(int(c) for c in channels.split(","))
        except ValueError:
            raise typer.BadParameter(f"{channels!r}: expected 5 comma-separated integers", param_hint="--channels") from None
        if len(model["channels"]) != 5:
            raise typer.BadParameter(f"{channels!r}: expected 5 comma-separated integers", param_hint="--channels")
    if rnn_hidden:
        model["rnn_hidden"] = rnn_hidden
    cfg = TrainConfig(stage=stage, data=data, val_data=val_data, val_fraction=val_fraction, out=str(out),
                      init=str(init) if init else None, epochs=epochs, max_steps=max_steps, max_minutes=max_minutes,
                      session_minutes=session_minutes,
                      batch_size=batch_size, lr=lr, val_every=val_every, patience=patience, select_by=select_by,
                      seed=seed, threads=threads, augment=augment, distort=distort, model=model, workers=workers, device=device)
    best = train(cfg, open_dataset, log=lambda s: typer.echo(s))
    typer.echo(f"best weights: {best}")


@train_app.command("interpolate")
def interpolate_recognizer(
    start: Path = typer.Option(..., "--start", help="Checkpoint at alpha 0 (e.g. the weights a fine-tune started from)."),
    end: Path = typer.Option(..., "--end", help="Checkpoint at alpha 1 (e.g. the fine-tune's weights)."),
    alpha: float = typer.Option(..., "--alpha", min=0.0, max=1.0, help="Share of --end's weights."),
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt); export it to ONNX afterwards."),
    version: Optional[str] = typer.Option(None, help="Version string recorded in the checkpoint."),
) -> None:
    """Write a recognizer whose weights lie between two checkpoints of the same architecture."""
    import torch

    from recognizer.train import interpolate_checkpoints

    for path, hint in ((start, "--start"), (end, "--end")):
        if not path.exists():
            raise typer.BadParameter(f"{path}: no such checkpoint", param_hint=hint)
    try:
        checkpoint = interpolate_checkpoints(start, end, alpha, version)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, out)
    typer.echo(f"{out}: {1 - alpha:g} x {start} + {alpha:g} x {end} ({checkpoint['version']})")


@eval_app.command("recognizer")
def eval_recognizer(
    data: str = typer.Option(..., "--data", help="Labelled set: labels.tsv folder, pages.jsonl, packed cache, IAM, MJSynth."),
    weights: Optional[Path] = typer.Option(None, help="Weights (default: the shipped ones)."),
    decoder: str = typer.Option("greedy", help="greedy | beam"),
    backend: str = typer.Option("auto", help="auto (the ONNX export beside the weights when it matches them) | onnx | torch"),
    limit: Optional[int] = typer.Option(None, help="Only the first N crops."),
    threads: Optional[int] = typer.Option(None),
    stretch_below: float = typer.Option(0.0, "--stretch-below", min=0.0, max=1.0,
                                        help="Read unsure crops again narrower, wider and whole, as `ocrsearch recognize` "
                                             f"does below {RECOGNIZE_STRETCH_BELOW}; 0: each crop read once."),
    trim_margins: bool = typer.Option(False, "--trim-margins/--no-trim-margins",
                                      help="Cut the empty rows above and below the writing first, as `ocrsearch "
                                           "recognize` does; off: the network alone, as the model card's history."),
) -> None:
    """Print CER, word accuracy, mean edit distance (raw and per length) and crops/s."""
    from data.readers import open_dataset
    from recognizer import Recognizer
    from recognizer.evaluate import evaluate_recognizer

    if threads:
        import torch

        torch.set_num_threads(threads)
    recognizer = Recognizer.load(weights, decoder=decoder, backend=backend, stretch_below=stretch_below,
                                 trim_margins=trim_margins)
    scores = evaluate_recognizer(recognizer, open_dataset(data), limit=limit)
    typer.echo(" ".join(scores.lines()))


OutOption = typer.Option(None, "-o", "--out", help="ONNX file (default: beside the weights, .onnx).")


@export_app.command("recognizer")
def export_recognizer(
    weights: Path = typer.Option(Path("recognizer/weights/recognizer.pt"), help="Checkpoint to export."),
    out: Optional[Path] = OutOption,
) -> None:
    """Write the recognizer as ONNX (checked against torch); reading then runs without torch."""
    from recognizer.export import export_checkpoint

    _check_weights(weights)
    path, worst = export_checkpoint(weights, out)
    typer.echo(f"{path}: exported {weights} (largest log-probability difference to torch {worst:.1e})")


@export_app.command("binarizer")
def export_binarizer(
    weights: Path = typer.Option(Path("binarizer/weights/binarizer.pt"), help="Checkpoint to export."),
    out: Optional[Path] = OutOption,
    calibration: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                               help="Photos (a folder, or one with pages/) to quantize to int8 with."),
) -> None:
    """Write the binarizer U-Net as ONNX (checked against torch); reading then runs without torch."""
    from binarizer.export import export_checkpoint

    _check_weights(weights)
    path, worst, agreement = export_checkpoint(weights, out, calibration)
    int8 = "" if agreement is None else f"; int8, its ink masks agree with the float export on {agreement:.2%} of pixels"
    typer.echo(f"{path}: exported {weights} (largest probability difference to torch {worst:.1e}{int8})")


def _check_weights(weights: Path) -> None:
    if not weights.exists():
        raise typer.BadParameter(f"{weights}: no such checkpoint", param_hint="--weights")
