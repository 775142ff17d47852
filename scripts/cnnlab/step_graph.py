"""Whole training steps replayed as one CUDA graph.

A small model's step on a GPU is bound by launching its kernels, not by running them: an
eager DigitCNN step at batch 64 measured 3.4 ms on an H100, nearly all of it the host issuing
some sixty kernels one by one. Captured once, the forward pass, the backward pass, the
optimiser's update and the running sums replay as one graph launch per step.

The captured step is the same Python function the eager path calls, on fixed input buffers
the batches are copied into. Nothing is run twice or skipped: the first steps run eagerly
(they set up the optimiser's state and the libraries' handles, which capture cannot do),
capture records without executing, and every later full batch replays the graph. A batch of
another size (an epoch's last) runs eagerly. The graph bakes in the learning rate as a
number, so it is captured afresh each epoch, after the schedule has stepped.
"""

from __future__ import annotations

from typing import Callable

import torch

# Eager steps before the first capture, as PyTorch's CUDA-graph notes advise (on a side
# stream): lazy initialisation (optimiser state, cuBLAS/cuDNN handles) must happen outside it.
WARMUP_STEPS = 3

StepFunction = Callable[[torch.Tensor, torch.Tensor], None]


class StepGraph:
    """Runs ``step(images, labels)`` (forward, backward, update, sums) as a replayed CUDA graph.

    ``zero_grad`` is called before the eager warm-up steps and before capture, so that the
    gradients the graph writes live in its own memory and are overwritten, not accumulated,
    at each replay.
    """

    def __init__(self, step: StepFunction, zero_grad: Callable[[], None], batch_size: int) -> None:
        self.step = step
        self.zero_grad = zero_grad
        self.batch_size = batch_size
        self.warmed_up = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.replays = 0

    def new_epoch(self) -> None:
        """Forget the captured graph: the learning rate it holds may have changed."""
        self.graph = None
        self.inputs = None

    def run(self, images: torch.Tensor, labels: torch.Tensor) -> bool:
        """Train on one batch; False (nothing done) for a batch the graph cannot take."""
        if len(labels) != self.batch_size:
            return False
        if self.warmed_up < WARMUP_STEPS:
            self._eager_on_side_stream(images, labels)
            self.warmed_up += 1
            return True
        if self.graph is None:
            self._capture(images, labels)
        assert self.graph is not None and self.inputs is not None
        self.inputs[0].copy_(images)
        self.inputs[1].copy_(labels)
        self.graph.replay()
        self.replays += 1
        return True

    def _eager_on_side_stream(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.zero_grad()
            self.step(images, labels)
        torch.cuda.current_stream().wait_stream(side)

    def _capture(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        # Buffers with the batch's own layout (channels-last or not), so the replayed kernels
        # are the ones the eager steps chose.
        self.inputs = (torch.empty_like(images), torch.empty_like(labels))
        self.zero_grad()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.step(*self.inputs)
        self.graph = graph
