"""Side-by-side training benchmark: the conventional tutorial loop against cnnlab's trainer.

Run by ``make bench``. Each repeat trains the same model, from the same seed, for the same
epochs and batch size, once per contestant, in alternating order (A/B, then B/A) in one
process; medians are reported. Nothing here is a test: it measures.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from cnnlab import datasets, step_profile, training
from cnnlab.analysis.layers import layer_table
from cnnlab.augmentation import crop_flip
from cnnlab.datasets.catalog import IDX_ROLES
from cnnlab.device import runtime_info, seed_everything, select_device, to_device, use_threads
from cnnlab.models import create_model

# The floor's matmul: square fp32 matrices of this size, timed over this many products, and
# the best of this many timings (a shared machine's speed drifts; the floor is what it can do).
FLOOR_MATMUL_SIZE = 1024
FLOOR_MATMUL_REPEATS = 30
FLOOR_MATMUL_TRIALS = 5


def matmul_gflops(device: torch.device, size: int = FLOOR_MATMUL_SIZE,
                  repeats: int = FLOOR_MATMUL_REPEATS, trials: int = FLOOR_MATMUL_TRIALS) -> float:
    """What this machine's fp32 matrix product reaches, in GFLOP/s (2 n^3 per product), with
    the threads in force: the best of ``trials`` timings, the rate the floor divides by."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    for _ in range(3):  # warm-up: thread pool, caches, clocks
        a @ b
    best = 0.0
    for _ in range(trials):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        synchronize(device)
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_flop_per_epoch(arch: str, images: int, input_shape: tuple[int, ...],
                            classes: int = 10) -> float:
    """FLOP of one training epoch: the forward pass's mult-adds (2 FLOP each) for every image,
    and the backward pass at twice the forward's (input and weight gradients), as is usual;
    the first layer's unneeded input gradient is counted too, so the floor errs low."""
    rows = layer_table(create_model(arch, num_classes=classes), input_shape)
    return 3 * 2 * sum(row.mult_adds for row in rows) * images


def floor(arch: str, images: int, input_shape: tuple[int, ...], device: torch.device) -> dict[str, float]:
    """The fastest an epoch could go if every FLOP ran at the measured matmul rate."""
    flop = training_flop_per_epoch(arch, images, input_shape)
    rate = matmul_gflops(device)
    return {"tflop_per_epoch": flop / 1e12, "matmul_gflops": rate,
            "seconds_per_epoch": flop / (rate * 1e9)}


def torchvision_root(mnist_folder: Path, workdir: Path) -> Path:
    """A torchvision-style MNIST root (decompressed raw files) built from a local copy."""
    raw = workdir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_ROLES.values():
        source = mnist_folder / name
        if source.is_file():
            shutil.copyfile(source, raw / name)
        else:
            with gzip.open(mnist_folder / f"{name}.gz") as src, (raw / name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
    return workdir


def tutorial_loaders(root: Path, batch_size: int, seed: int) -> tuple[Any, Any]:
    """The tutorial's data path: PIL image -> ToTensor -> Normalize per sample, DataLoader."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    test = datasets.MNIST(str(root), train=False, download=False, transform=transform)
    generator = torch.Generator().manual_seed(seed)
    return (torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            torch.utils.data.DataLoader(test, batch_size=1000))


def tutorial_epochs(arch: str, root: Path, epochs: int, batch_size: int, lr: float,
                    seed: int, device: torch.device) -> dict[str, float]:
    """The conventional loop: ``.item()`` every step, each batch moved to ``device`` as it comes."""
    torch.manual_seed(seed)
    model = create_model(arch).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    train_loader, test_loader = tutorial_loaders(root, batch_size, seed)
    seconds = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        running = 0.0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item()
        seconds.append(time.perf_counter() - start)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    epoch = statistics.median(seconds)
    return {"seconds_per_epoch": epoch, "images_per_second": len(train_loader.dataset) / epoch,
            "test_accuracy": correct / total}


def pipeline_epochs(arch: str, data: datasets.PreparedData, epochs: int, seed: int,
                    device: torch.device, **settings: Any) -> dict[str, float]:
    """cnnlab's trainer on the same model, seed, epochs and batch size."""
    seed_everything(seed)
    model = create_model(arch)
    recipe = training.TrainSettings(epochs=epochs, **settings)
    result = training.fit(model, data, recipe, seed=seed, device=device, augment=False)
    seconds = statistics.median(r["seconds"] for r in result.history)
    return {"seconds_per_epoch": seconds, "images_per_second": len(data.train.labels) / seconds,
            "test_accuracy": result.history[-1]["val_acc"]}  # the test split, see run()


def data_path_only(root: Path, data: datasets.PreparedData, batch_size: int,
                   device: torch.device) -> dict[str, float]:
    """One epoch of batches, no model: the tutorial DataLoader vs indexing device tensors."""
    loader, _ = tutorial_loaders(root, batch_size, 0)
    start = time.perf_counter()
    for _batch in loader:
        pass
    tutorial = time.perf_counter() - start
    x, y = to_device(data.train, data.mean, data.std, device)
    start = time.perf_counter()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).to(device)
    checksum = torch.zeros((), device=device)
    for i in range(0, len(y), batch_size):
        index = order[i:i + batch_size]
        checksum += x[index].sum() + y[index].sum()
    float(checksum)
    ours = time.perf_counter() - start
    return {"tutorial_seconds": tutorial, "pipeline_seconds": ours, "ratio": tutorial / ours}


def augmentation(device: torch.device, n: int = 10_000, batch_size: int = 128) -> dict[str, float]:
    """CIFAR-shaped random crop (padding 4) + flip: per-image torchvision vs batched on tensors."""
    from PIL import Image
    from torchvision import transforms

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    per_image = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                    transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    start = time.perf_counter()
    for image in images:
        per_image(Image.fromarray(image))
    tutorial = time.perf_counter() - start
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255).to(device)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for i in range(0, n, batch_size):
        out = crop_flip(x[i:i + batch_size], generator)
    float(out.sum())
    ours = time.perf_counter() - start
    return {"images": n, "tutorial_images_per_second": n / tutorial,
            "pipeline_images_per_second": n / ours, "ratio": tutorial / ours}


def run(mnist_folder: Path, *, arch: str = "digitcnn", epochs: int = 1, repeats: int = 3,
        batch_size: int = 64, lr: float = 1e-3, seed: int = 0, threads: int | None = None,
        variants: dict[str, dict[str, Any]] | None = None,
        report: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark; returns what it printed as a dict."""
    used_threads = use_threads(threads or os.cpu_count() or 1)
    device = select_device()
    raw = datasets.load_folder("mnist", mnist_folder, verify=False)
    arrays, record = datasets.prepare_dataset(raw, train_limit=None, test_limit=None, seed=seed)
    test = datasets.Split(arrays["test_images"], arrays["test_labels"])
    # The tutorial loop scores the test split after every epoch; the trainer scores its
    # validation split then, so it is given the test split there: the same work on both sides.
    data = datasets.PreparedData(datasets.Split(arrays["train_images"], arrays["train_labels"]),
                                test, record["classes"], record["normalization"]["mean"],
                                record["normalization"]["std"], record, validation=test)
    variants = variants or {}
    contestants: dict[str, Callable[[], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(mnist_folder, Path(tmp))
        contestants["tutorial"] = lambda: tutorial_epochs(arch, root, epochs, batch_size, lr, seed,
                                                          device)
        contestants["pipeline"] = lambda: pipeline_epochs(arch, data, epochs, seed, device,
                                                          batch_size=batch_size, lr=lr)
        for name, settings in variants.items():
            recipe = {"batch_size": batch_size, "lr": lr, **settings}
            contestants[name] = (lambda r=recipe: pipeline_epochs(arch, data, epochs, seed, device, **r))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in contestants}
        names = list(contestants)
        for r in range(repeats):
            for name in (names if r % 2 == 0 else names[::-1]):
                result = contestants[name]()
                runs[name].append(result)
                report(f"repeat {r + 1} {name:>22s}: {result['seconds_per_epoch']:7.3f} s/epoch "
                       f"{result['images_per_second']:8.0f} img/s  test acc {result['test_accuracy']:.4f}")
        data_path = data_path_only(root, data, batch_size, device)
    medians = {name: {key: statistics.median(r[key] for r in results) for key in results[0]}
               for name, results in runs.items()}
    lowest = floor(arch, len(data.train.labels), tuple(data.train.images.shape[1:]), device)
    tutorial = medians["tutorial"]["seconds_per_epoch"]
    for name in medians:
        medians[name]["speedup_over_tutorial"] = tutorial / medians[name]["seconds_per_epoch"]
        medians[name]["times_floor"] = medians[name]["seconds_per_epoch"] / lowest["seconds_per_epoch"]
        medians[name]["accuracy_minus_tutorial_points"] = 100 * (
            medians[name]["test_accuracy"] - medians["tutorial"]["test_accuracy"])
    summary = {
        "arch": arch, "epochs": epochs, "repeats": repeats, "batch_size": batch_size,
        "device": str(device), "threads": used_threads, "runtime": runtime_info(device),
        "variants": variants, "medians": medians, "runs": runs,
        "data_path_only": data_path, "augmentation": augmentation(device), "floor": lowest,
        "step_breakdown": step_profile.step_breakdown(arch, data, device, batch_size=batch_size, lr=lr),
    }
    report("")
    report(f"{arch}, {epochs} epoch(s), batch {batch_size}, {repeats} repeats, {device}, "
           f"{used_threads} threads; medians:")
    for name, m in medians.items():
        report(f"  {name:>22s}: {m['seconds_per_epoch']:7.3f} s/epoch {m['images_per_second']:8.0f} img/s  "
               f"acc {100 * m['test_accuracy']:.2f}%  tutorial/this = {m['speedup_over_tutorial']:.2f}  "
               f"this/floor = {m['times_floor']:.2f}")
    report(f"  floor: {lowest['tflop_per_epoch']:.3f} TFLOP per epoch at {lowest['matmul_gflops']:.0f} "
           f"GFLOP/s (fp32 {FLOOR_MATMUL_SIZE}x{FLOOR_MATMUL_SIZE} matmul, best of "
           f"{FLOOR_MATMUL_TRIALS} timings here) = "
           f"{lowest['seconds_per_epoch']:.3g} s/epoch")
    report(f"  data path only, one epoch: tutorial {data_path['tutorial_seconds']:.2f} s, "
           f"pipeline {data_path['pipeline_seconds']:.3f} s ({data_path['ratio']:.0f}x)")
    aug = summary["augmentation"]
    report(f"  CIFAR crop+flip: per-image {aug['tutorial_images_per_second']:.0f} img/s, batched "
           f"{aug['pipeline_images_per_second']:.0f} img/s ({aug['ratio']:.0f}x)")
    report_breakdown(summary["step_breakdown"], lowest["matmul_gflops"], report)
    return summary


def report_breakdown(breakdown: dict[str, Any], floor_gflops: float,
                     report: Callable[[str], None]) -> None:
    """Print where the trainer's step goes, kind by kind (:func:`step_profile.step_breakdown`)."""
    steps = f"torch.profiler, {breakdown['steps']} steps of {breakdown['batch_size']}"
    if breakdown["device"] == "cuda":
        report(f"  where a trainer step goes on the GPU ({steps}, eager): its kernels run "
               f"{breakdown['profiled_milliseconds']:.3f} ms per step (a graphed step replays them)")
    else:
        report(f"  where a trainer step goes ({steps}): {breakdown['step_milliseconds']:.2f} ms per "
               f"step unprofiled, {breakdown['profiled_milliseconds']:.2f} ms in operators when profiled")
    for kind in step_profile.KINDS:
        rate = breakdown["gflops"].get(kind)
        at = f"  at {rate:.0f} GFLOP/s ({rate / floor_gflops:.0%} of the floor's rate)" if rate else ""
        report(f"    {kind:>16s}: {100 * breakdown['share'][kind]:5.1f}%  "
               f"{breakdown['milliseconds'][kind]:7.3f} ms{at}")


def write(summary: dict[str, Any], path: Path) -> None:
    """Save the benchmark's figures as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
