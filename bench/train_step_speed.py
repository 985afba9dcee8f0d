"""Where a recognizer training step's time goes: data loading alone, and the model step alone
(per memory format) on batches shaped like the training data. Prints crops/s for each.

    python bench/train_step_speed.py --data cache/words/train --device cuda --workers 6"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from data.readers import open_dataset
from recognizer.model import CRNN, CRNNConfig
from recognizer.train import StripDataset, WidthBucketSampler, _widths, collate, ctc_loss, resolve_device


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    base = open_dataset(args.data)
    loader = DataLoader(StripDataset(base, augment=True), collate_fn=collate, num_workers=args.workers,
                        batch_sampler=WidthBucketSampler(_widths(base), args.batch_size))
    batches, started = [], time.time()
    for batch in loader:
        batches.append(batch)
        if len(batches) == args.steps:
            break
    print(f"loader: {args.steps * args.batch_size / (time.time() - started):.0f} crops/s ({args.workers} workers)")

    device = resolve_device(args.device)
    for channels_last in (True, False):
        model = CRNN(CRNNConfig()).to(device)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for i, (images, widths, targets, target_lengths, _) in enumerate(batches + batches[:5]):
            if i == 5:  # after warm-up
                torch.cuda.synchronize() if device.type == "cuda" else None
                started = time.time()
            loss, _, _ = ctc_loss(model, images, widths, targets, target_lengths, memory_format=fmt)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize() if device.type == "cuda" else None
        rate = args.steps * args.batch_size / (time.time() - started)
        print(f"model step ({'channels_last' if channels_last else 'contiguous'}, {device}): {rate:.0f} crops/s")


if __name__ == "__main__":
    main()
