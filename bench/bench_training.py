"""make bench: the tutorial training loop against cnnlab's trainer, side by side.

Usage: python bench/bench_training.py [--epochs N] [--repeats N] [--out results/bench/train.json]
MNIST is found on the same search path as the pipeline's (data/raw, CNNLAB_DATA_PATH,
/usr/share/datasets).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "scripts"))

from cnnlab import bench, datasets  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="digitcnn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=PROJECT / "results" / "bench" / "train.json")
    args = parser.parse_args()
    search = datasets.data_search_path(PROJECT, os.environ.get("CNNLAB_DATA_PATH"), [])
    folder = datasets.locate_dataset("mnist", search)
    if folder is None:
        print(f"no local MNIST found on {', '.join(map(str, search))}: set CNNLAB_DATA_PATH", file=sys.stderr)
        return 2
    # "pipeline" is the trainer at its defaults (channels-last, bf16 where native); the
    # variants show what each default is worth.
    variants = {
        "pipeline fp32 contiguous": {"channels_last": False, "bf16": False},
        "pipeline no bf16": {"bf16": False},
        "pipeline batch 256": {"batch_size": 256, "lr": 2e-3},
        # What deterministic mode (the default, for repeatable runs) costs.
        "pipeline not deterministic": {"deterministic": False},
        # torch.compile: its compile time falls in the (one) epoch; inductor's cache on disk
        # makes later repeats cheaper, so the median is the favourable case.
        "pipeline compiled": {"compile": True},
    }
    if torch.cuda.is_available():  # CUDA graphs exist on the GPU only
        # "pipeline" replays each whole step as one CUDA graph there; these show what that is
        # worth, and torch.compile's own graphs of the forward and backward passes.
        variants["pipeline eager steps"] = {"cuda_graphs": False}
        variants["pipeline reduce-overhead"] = {"compile": "reduce-overhead"}
    summary = bench.run(folder, arch=args.arch, epochs=args.epochs, repeats=args.repeats,
                        batch_size=args.batch_size, variants=variants)
    bench.write(summary, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
