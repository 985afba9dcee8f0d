"""Training the binarizer U-Net on photos with ink masks.

Data: a folder with `pages.jsonl` (rows with "image": "pages/x.jpg") and `masks/<stem>.png`
(uint8, 255 = ink). Random crops (photo and mask resized together to a random working scale),
BCE + Dice loss, AdamW with cosine decay; the checkpoint with the best validation F-measure is kept,
and every evaluation is logged to a CSV file.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from binarizer.infer import load_checkpoint, save_model
from binarizer.model import BinarizerModelConfig, BinarizerNet


@dataclass
class BinarizerTrainConfig:
    """Training defaults, in one place."""

    data: Path = Path("runs/tune-pages")
    out: Path = Path("runs/binarizer")
    steps: int = 2000
    batch_size: int = 8
    crop: int = 320  # training crop side (a multiple of 16)
    scale_range: tuple[float, float] = (0.35, 0.8)  # photo resize before cropping (working scales)
    work_side: int = 1280  # longest side the U-Net reads photos at; should match scale_range on typical photos
    init: Path | None = None  # start from these weights (their architecture replaces `model`)
    # with `init`: the head stride to train (BinarizerModelConfig.head_stride; None: the init's). The
    # init's weights that still fit are loaded; the new head starts from random weights.
    head_stride: int | None = None
    lr: float = 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    val_every: int = 200
    workers: int = 0
    seed: int = 0
    threads: int = 2
    model: BinarizerModelConfig = field(default_factory=BinarizerModelConfig)


def init_model(path: Path, head_stride: int | None = None) -> tuple[BinarizerNet, list[str]]:
    """The network of checkpoint `path`, with another head stride if `head_stride` is given: every
    weight of the checkpoint whose name and shape fit the new network is loaded. Returns the network
    and the names of the parameters that start from random weights."""
    model, _ = load_checkpoint(path)
    if head_stride is None or head_stride == model.cfg.head_stride:
        return model, []
    adapted = BinarizerNet(replace(model.cfg, head_stride=head_stride))
    state = adapted.state_dict()
    fitting = {k: v for k, v in model.state_dict().items() if k in state and state[k].shape == v.shape}
    adapted.load_state_dict(fitting, strict=False)
    return adapted, [k for k in state if k not in fitting]


def read_pages(data: Path) -> list[tuple[Path, Path]]:
    """(photo, mask) pairs of a data folder; rows without a mask file are skipped."""
    pairs = []
    for line in (data / "pages.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        image = data / json.loads(line)["image"]
        mask = data / "masks" / f"{image.stem}.png"
        if mask.exists():
            pairs.append((image, mask))
    if not pairs:
        raise FileNotFoundError(f"{data}: no pages with masks/<stem>.png")
    return pairs


class CropDataset(Dataset):
    """Random (crop [3,c,c] float in [0,1], mask [1,c,c] float {0,1}) pairs, `length` per epoch."""

    def __init__(self, pairs: list[tuple[Path, Path]], crop: int, scale_range: tuple[float, float],
                 length: int, seed: int, augment: bool = True) -> None:
        self.pairs, self.crop, self.scale_range = pairs, crop, scale_range
        self.length, self.seed, self.augment = length, seed, augment
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.length

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._cache:
            rgb = cv2.imread(str(self.pairs[i][0]), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
            mask = cv2.imread(str(self.pairs[i][1]), cv2.IMREAD_GRAYSCALE)
            if mask.shape != rgb.shape[:2]:
                mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
            self._cache[i] = (rgb, mask)
        return self._cache[i]

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, k))
        rgb, mask = self._load(int(rng.integers(len(self.pairs))))
        s = rng.uniform(*self.scale_range)
        s = max(s, self.crop / min(rgb.shape[:2]))  # the crop must fit
        rgb = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
        c = self.crop
        y = int(rng.integers(0, rgb.shape[0] - c + 1))
        x = int(rng.integers(0, rgb.shape[1] - c + 1))
        img = rgb[y : y + c, x : x + c].astype(np.float32) / 255.0  # [c,c,3]
        m = (mask[y : y + c, x : x + c] > 127).astype(np.float32)  # [c,c]
        if self.augment:
            if rng.random() < 0.5:
                img, m = img[:, ::-1], m[:, ::-1]
            img = img * rng.uniform(0.7, 1.15) + rng.uniform(-0.08, 0.08, 3).astype(np.float32)  # exposure, tint
            img = np.clip(img + rng.normal(0, 0.015, img.shape).astype(np.float32), 0, 1)
        return (torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1),  # [3,c,c]
                torch.from_numpy(np.ascontiguousarray(m))[None])  # [1,c,c]


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice on the ink class; logits and target [B,1,H,W]."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return bce + dice.mean()


@torch.no_grad()
def evaluate(model: BinarizerNet, loader: DataLoader) -> dict[str, float]:
    """Validation loss and pixel F-measure (%) at probability 0.5."""
    model.eval()
    tp = fp = fn = 0.0
    losses = []
    for img, m in loader:
        logits = model(img)  # [B,1,c,c]
        losses.append(float(bce_dice_loss(logits, m)))
        pred = logits > 0
        t = m > 0.5
        tp += float((pred & t).sum())
        fp += float((pred & ~t).sum())
        fn += float((~pred & t).sum())
    model.train()
    f = 200 * tp / max(2 * tp + fp + fn, 1.0)
    return {"val_loss": float(np.mean(losses)) if losses else math.nan, "val_f": f}


def train(cfg: BinarizerTrainConfig, progress=None) -> dict[str, float]:
    """Train; writes out/best.pt, out/last.pt and out/log.csv; returns the best validation metrics."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    pairs = read_pages(Path(cfg.data))
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(pairs))
    n_val = max(1, int(round(cfg.val_fraction * len(pairs)))) if len(pairs) > 1 else 0
    val_pairs = [pairs[i] for i in order[:n_val]] or pairs
    train_pairs = [pairs[i] for i in order[n_val:]] or pairs
    train_ds = CropDataset(train_pairs, cfg.crop, cfg.scale_range, cfg.steps * cfg.batch_size, cfg.seed)
    val_ds = CropDataset(val_pairs, cfg.crop, cfg.scale_range, max(cfg.batch_size, 4 * len(val_pairs)),
                         cfg.seed + 10_000, augment=False)
    train_dl = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers)
    val_dl = DataLoader(val_ds, batch_size=cfg.batch_size, num_workers=cfg.workers)

    if cfg.init is not None:
        model, new = init_model(Path(cfg.init), cfg.head_stride)
        if new and progress:
            progress(f"new (random) parameters: {', '.join(new)}")
        model.train()
        cfg.model = model.cfg  # config.json records the architecture that is trained
    else:
        model = BinarizerNet(cfg.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(cfg.steps, 1), pct_start=0.1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), default=str, indent=1))
    best: dict[str, float] = {"val_f": -1.0}
    t0 = time.time()
    with (out / "log.csv").open("w", newline="") as f:
        log = csv.writer(f)
        log.writerow(["step", "train_loss", "val_loss", "val_f", "lr", "seconds"])
        running = []
        for step, (img, m) in enumerate(train_dl, start=1):
            loss = bce_dice_loss(model(img), m)  # img [B,3,c,c], m [B,1,c,c]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running.append(float(loss.detach()))
            if step % cfg.val_every == 0 or step == cfg.steps:
                metrics = evaluate(model, val_dl)
                row = [step, float(np.mean(running)), metrics["val_loss"], metrics["val_f"],
                       sched.get_last_lr()[0], round(time.time() - t0, 1)]
                log.writerow(row)
                f.flush()
                running = []
                if metrics["val_f"] > best["val_f"]:
                    best = {"step": step, **metrics}
                    save_model(model, out / "best.pt", {"step": step, "work_side": cfg.work_side, **metrics})
                if progress:
                    progress(row)
            if step >= cfg.steps:
                break
    save_model(model, out / "last.pt", {"step": cfg.steps, "work_side": cfg.work_side})
    return best
