"""Training of the CRNN with CTC: stages synth -> finetune -> wild, each from the previous weights.

Keeps the lowest-validation-loss checkpoint (best.pt), resumes from last.pt after an interruption,
and writes a CSV log and a loss-curve PNG into the run folder."""

from __future__ import annotations

import csv
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from rapidfuzz.distance import Levenshtein
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from data.readers import RepeatedDataset
from recognizer.charset import encode_batch, normalise_label
from recognizer.decode import greedy_decode
from recognizer.model import CRNN, CRNNConfig
from recognizer.preprocess import HEIGHT, collate_strips, to_gray_strip


SELECT_BY = ("loss", "cer")


@dataclass
class TrainConfig:
    stage: str = "synth"  # synth | finetune | wild: only recorded, the data decides what is learned
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    val_fraction: float = 0.02  # taken from `data` when no val_data is given
    out: str = "runs/recognizer"
    init: str | None = None  # weights to start from (the previous stage's best.pt)
    epochs: int = 10
    max_steps: int | None = None
    max_minutes: float | None = None  # the whole schedule's length, across resumes
    session_minutes: float | None = None  # stop this process (checkpointed) after this long; resume later
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    val_every: int = 500
    patience: int = 8  # validations without improvement before stopping early
    # What best.pt keeps: the lowest validation "loss", or the lowest greedy "cer". In stage 13
    # (recognizer/weights/README.md) the loss stopped falling at step 3,500 while the CER of every
    # rendered set went on falling to the end of the run.
    select_by: str = "loss"
    seed: int = 0
    threads: int | None = None
    workers: int = 0
    augment: bool = True
    # Share of training strips also slanted, squashed, wobbled, thinned or thickened and blurred
    # (distort_strip): the few real handwritten crops are repeated many times, and seen plain each
    # time they are learnt by heart.
    distort: float = 0.0
    model: dict = field(default_factory=dict)  # CRNNConfig overrides
    device: str = "auto"  # auto (cuda when available), cpu or cuda


def preferred_memory_format(device: torch.device) -> torch.memory_format:
    """channels_last runs the depthwise convolutions ~1.5x faster on CPU, but ~35x slower on an
    H100 in float32 (bench/train_step_speed.py: 136 against 4,811 crops/s)."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class StripDataset(Dataset):
    """Wraps any (image, text) dataset into recognizer strips with light train-time augmentation."""

    def __init__(self, base: Dataset, augment: bool, seed: int = 0, distort: float = 0.0):
        self.base, self.augment, self.distort = base, augment, distort
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.base)

    def width(self, i: int) -> int:
        width = getattr(self.base, "width", None)
        return width(i) if width else 0

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        image, text = self.base[i]
        strip = image if image.ndim == 2 and image.shape[0] == HEIGHT else to_gray_strip(image)
        if self.augment:
            strip = self._augment(strip)
        return strip, normalise_label(text)

    def _augment(self, strip: np.ndarray) -> np.ndarray:
        rng = self.rng
        h, w = strip.shape
        if rng.random() < 0.5:  # narrower or wider handwriting
            new_w = int(np.clip(w * rng.uniform(0.75, 1.25), 16, 1024))
            strip = cv2.resize(strip, (new_w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < self.distort:
            strip = distort_strip(strip, self.np_rng)
        if rng.random() < 0.1:
            strip = 255 - strip  # light-on-dark boards
        return strip


def distort_strip(strip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A gray strip [H, W] uint8 -> the same writing as another hand might have left it: slanted,
    squashed or stretched vertically, wobbled, with thinner or thicker strokes and a little blur.
    The height stays H; the width grows with the slant."""
    from data.surfaces import elastic

    h, w = strip.shape
    background = float(np.median(strip))
    slant = rng.uniform(-0.4, 0.4)  # tan of the shear angle
    scale = rng.uniform(0.8, 1.05)
    shift = rng.uniform(-0.08, 0.08) * h
    out_w = int(min(1024, w + abs(slant) * h))
    # x' = x - slant * (y - h/2) + margin; y' = scale * (y - h/2) + h/2 + shift
    matrix = np.float32([[1, -slant, slant * h / 2 + (out_w - w) / 2], [0, scale, (1 - scale) * h / 2 + shift]])
    strip = cv2.warpAffine(strip, matrix, (out_w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=background)
    if rng.random() < 0.5:
        # around the background, so what the wobble pulls in from outside is background
        wobbled = elastic(strip.astype(np.float32) - background, rng, amplitude=rng.uniform(0.5, 1.5),
                          spacing=rng.uniform(6, 12))
        strip = np.clip(wobbled + background, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        kernel = np.ones((2, 2), np.uint8)
        strip = cv2.erode(strip, kernel) if rng.random() < 0.5 else cv2.dilate(strip, kernel)
    if rng.random() < 0.3:
        strip = cv2.GaussianBlur(strip, (3, 3), rng.uniform(0.4, 0.9))
    return strip


class WidthBucketSampler(Sampler[list[int]]):
    """Batches of similar widths (less padding, faster steps), in random order each epoch."""

    def __init__(self, widths: list[int], batch_size: int, seed: int = 0):
        self.widths, self.batch_size, self.seed, self.epoch = widths, batch_size, seed, 0

    def __len__(self) -> int:
        return math.ceil(len(self.widths) / self.batch_size)

    def __iter__(self):
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        order = list(range(len(self.widths)))
        rng.shuffle(order)
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: self.widths[i])
            batches += [part[j:j + self.batch_size] for j in range(0, len(part), self.batch_size)]
        rng.shuffle(batches)
        return iter(batches)


def collate(batch: list[tuple[np.ndarray, str]]):
    strips, texts = zip(*batch)
    images, widths = collate_strips(list(strips))
    images, widths = torch.from_numpy(images), torch.from_numpy(widths)
    targets, target_lengths = encode_batch(list(texts))
    return images, widths, targets, target_lengths, list(texts)


def ctc_loss(model: CRNN, images, widths, targets, target_lengths,
             memory_format: torch.memory_format | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`memory_format`: the device's preferred one unless given (bench/train_step_speed.py compares)."""
    device = next(model.parameters()).device
    log_probs = model(images.to(device, memory_format=memory_format or preferred_memory_format(device)))  # [T, B, C]
    lengths = CRNN.output_lengths(widths).clamp(max=log_probs.shape[0]).to(device)
    targets, target_lengths = targets.to(device), target_lengths.to(device)
    loss = torch.nn.functional.ctc_loss(log_probs, targets, lengths, target_lengths, blank=0,
                                        reduction="mean", zero_infinity=True)
    return loss, log_probs, lengths


@torch.no_grad()
def evaluate(model: CRNN, loader: DataLoader) -> dict[str, float]:
    model.eval()
    total_loss, n_batches, edits, chars, correct, n = 0.0, 0, 0, 0, 0, 0
    for images, widths, targets, target_lengths, texts in loader:
        loss, log_probs, lengths = ctc_loss(model, images, widths, targets, target_lengths)
        total_loss += float(loss)
        n_batches += 1
        for reading, truth in zip(greedy_decode(log_probs, lengths), texts):
            edits += Levenshtein.distance(reading.text, truth)
            chars += max(1, len(truth))
            correct += reading.text.lower() == truth.lower()
            n += 1
    model.train()
    return {"val_loss": total_loss / max(1, n_batches), "val_cer": edits / max(1, chars), "val_acc": correct / max(1, n)}


def load_checkpoint_model(path: str | Path) -> tuple[CRNN, dict]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = CRNN(CRNNConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model, state


def interpolate_checkpoints(start: str | Path, end: str | Path, alpha: float, version: str | None = None) -> dict:
    """Two checkpoints of one architecture -> a checkpoint whose weights are (1 - alpha) * start +
    alpha * end (BatchNorm statistics too; integer counters from `start`). A fine-tune that read
    what it was tuned for better and the rest worse keeps part of each this way (weight-space
    ensembling, as WiSE-FT). Raises ValueError naming the files when the architectures differ."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} is not in [0, 1]")
    first, second = (torch.load(p, map_location="cpu", weights_only=False) for p in (start, end))
    if first["config"] != second["config"] or first["model"].keys() != second["model"].keys():
        raise ValueError(f"{start} and {end}: different recognizer architectures, cannot interpolate")
    weights = {k: torch.lerp(v, second["model"][k], alpha) if v.is_floating_point() else v.clone()
               for k, v in first["model"].items()}
    return {"model": weights, "config": first["config"], "train": first.get("train", {}),
            "metrics": {"interpolated": {"start": str(start), "end": str(end), "alpha": alpha}},
            "version": version or f"crnn-interpolated-{alpha:g}"}


def train(cfg: TrainConfig, open_dataset: Callable[[str], Dataset], log: Callable[[str], None] = print) -> Path:
    """Run one training stage; returns the path of the best checkpoint."""
    if cfg.select_by not in SELECT_BY:
        raise ValueError(f"unknown select_by {cfg.select_by!r} ({' or '.join(SELECT_BY)})")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    datasets = [open_dataset(d) for d in cfg.data]
    base = datasets[0] if len(datasets) == 1 else torch.utils.data.ConcatDataset(datasets)
    if cfg.val_data:
        val_base = torch.utils.data.ConcatDataset([open_dataset(d) for d in cfg.val_data])
        train_base = base
    else:
        idx = list(range(len(base)))
        random.Random(cfg.seed).shuffle(idx)
        n_val = max(1, int(len(idx) * cfg.val_fraction))
        val_base, train_base = Subset(base, idx[:n_val]), Subset(base, idx[n_val:])
    train_set = StripDataset(train_base, augment=cfg.augment, seed=cfg.seed, distort=cfg.distort)
    val_set = StripDataset(val_base, augment=False)
    widths = _widths(train_base)
    sampler = WidthBucketSampler(widths, cfg.batch_size, cfg.seed) if widths else None
    train_loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.workers) if sampler \
        else DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate, num_workers=cfg.workers)
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size, collate_fn=collate)

    if cfg.init:
        model, _ = load_checkpoint_model(cfg.init)
        log(f"initialised from {cfg.init}")
    else:
        model = CRNN(CRNNConfig(**{**CRNNConfig().to_dict(), **cfg.model}))
    device = resolve_device(cfg.device)
    model = model.to(device, memory_format=preferred_memory_format(device))
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = len(train_loader)
    total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best_loss, stale, history, elapsed_before = 0, float("inf"), 0, [], 0.0
    last = out / "last.pt"
    if last.exists():  # resume after an interruption
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best_loss, stale, history = state["step"], state["best_loss"], state["stale"], state["history"]
        elapsed_before = state.get("minutes", 0.0)
        if sampler:
            sampler.epoch = state.get("epoch", 0)
        log(f"resumed from {last} at step {step}")
    log(f"stage={cfg.stage} device={device} params={n_params} train={len(train_set)} val={len(val_set)} "
        f"steps/epoch={steps_per_epoch} total_steps={total_steps}")

    def minutes() -> float:
        return elapsed_before + (time.time() - started) / 60

    def progress() -> float:
        # Steps or the time budget, whichever runs out first: on a shared 2-core machine the
        # step rate varies, and the schedule must still reach its low-LR end in time.
        p = step / total_steps
        if cfg.max_minutes:
            p = max(p, minutes() / cfg.max_minutes)
        return min(p, 1.0)

    def learning_rate() -> float:
        p = progress()
        if p < cfg.warmup_fraction:
            return cfg.lr * (0.1 + 0.9 * p / cfg.warmup_fraction)
        q = (p - cfg.warmup_fraction) / (1 - cfg.warmup_fraction)
        return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * q)))

    model.train()
    started, seen, window_loss, window_n = time.time(), 0, 0.0, 0
    done = step >= total_steps
    while not done:
        for images, widths_b, targets, target_lengths, _texts in train_loader:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate()
            loss, _, _ = ctc_loss(model, images, widths_b, targets, target_lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            seen += images.shape[0]
            window_loss += float(loss.detach())
            window_n += 1
            out_of_time = (cfg.max_minutes is not None and minutes() > cfg.max_minutes) or \
                (cfg.session_minutes is not None and time.time() - started > cfg.session_minutes * 60)
            if step % cfg.val_every == 0 or step >= total_steps or out_of_time:
                metrics = evaluate(model, val_loader)
                row = {"step": step, "epoch": round(step / steps_per_epoch, 3), "train_loss": window_loss / window_n,
                       **metrics, "lr": optimizer.param_groups[0]["lr"], "crops_per_s": seen / (time.time() - started),
                       "minutes": minutes()}
                history.append(row)
                window_loss, window_n = 0.0, 0
                # best_loss holds the selected figure (val_loss or val_cer), under its old name so that
                # runs checkpointed before select_by existed resume
                improved = metrics[f"val_{cfg.select_by}"] < best_loss
                if improved:
                    best_loss, stale = metrics[f"val_{cfg.select_by}"], 0
                    _save_weights(out / "best.pt", model, cfg, row)
                else:
                    stale += 1
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                    + (" *" if improved else ""))
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "minutes": minutes(), "step": step, "best_loss": best_loss,
                            "stale": stale, "history": history, "epoch": sampler.epoch if sampler else 0}, last)
                _write_log(out, history)
                if stale >= cfg.patience:
                    log(f"early stop: no improvement in {stale} validations")
                    done = True
            if step >= total_steps or out_of_time:
                done = True
            if done:
                break
    return out / "best.pt"


def _widths(dataset) -> list[int]:
    """Model-input width of every item, if the dataset can tell without decoding images."""
    if isinstance(dataset, Subset):
        inner = _widths(dataset.dataset)
        return [inner[i] for i in dataset.indices] if inner else []
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        parts = [_widths(d) for d in dataset.datasets]
        return [w for p in parts for w in p] if all(parts) else []
    width = getattr(dataset, "width", None)
    if width is None:
        return []
    if isinstance(dataset, RepeatedDataset):  # measure the base once, not `times` times
        base = _widths(dataset.base)
        return base * dataset.times if base else []
    return [width(i) for i in range(len(dataset))]


def _save_weights(path: Path, model: CRNN, cfg: TrainConfig, metrics: dict) -> None:
    weights = {k: v.cpu() for k, v in model.state_dict().items()}  # loadable without a GPU
    torch.save({"model": weights, "config": model.cfg.to_dict(), "train": asdict(cfg),
                "metrics": metrics}, path)


def _write_log(out: Path, history: list[dict]) -> None:
    with (out / "log.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    steps = [r["step"] for r in history]
    ax[0].plot(steps, [r["train_loss"] for r in history], label="train")
    ax[0].plot(steps, [r["val_loss"] for r in history], label="val")
    ax[0].set_xlabel("step"); ax[0].set_ylabel("CTC loss"); ax[0].legend(); ax[0].set_yscale("log")
    ax[1].plot(steps, [r["val_cer"] for r in history])
    ax[1].set_xlabel("step"); ax[1].set_ylabel("val CER")
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=80)
    plt.close(fig)
