"""Activation maximisation against the case with a known answer."""

from __future__ import annotations

import numpy as np
import torch
from cnnlab.analysis import optimal_inputs as optimal
from cnnlab.analysis import receptive_field
from cnnlab.analysis.effective_field import centre_box
from cnnlab.models import create_model


def test_a_first_convolutions_optimum_is_its_kernel_scaled_to_the_bound() -> None:
    """The centre unit of a convolution is <kernel, patch> + bias: under ||x|| <= r the best
    input is r * kernel / ||kernel|| on the patch and nothing elsewhere."""
    torch.manual_seed(0)
    model = create_model("digitcnn", num_classes=10).eval()
    graph = receptive_field.trace(model)
    row = receptive_field.analytic_table(model, 28, graph)[0]
    convolution = model.features[0]
    ascent = optimal.Ascent(steps=256, radius=5.0)
    optima, activation = optimal.maximise(receptive_field.truncate(graph, row.layer), 16,
                                          (1, 28, 28), ascent)
    box = centre_box(row, 28)
    cosine = optimal.cosine_to_kernels(optima, convolution, tuple(box.corners()))
    assert cosine.min() > 0.99
    # The best activation there is: r * ||kernel|| + bias, reached to a fraction of a percent.
    best = 5.0 * convolution.weight.flatten(1).norm(dim=1) + convolution.bias
    assert np.allclose(activation, best.detach().numpy(), rtol=5e-3)
    # Every optimum lies on the sphere and (nearly) all of its mass is on the patch.
    norms = optima.flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 5.0), atol=1e-4)
    inside = optima[:, :, box.top:box.bottom + 1, box.left:box.right + 1].flatten(1).norm(dim=1)
    assert (inside / norms).min() > 0.99


def test_total_variation_counts_neighbour_differences_and_smooths_the_optimum() -> None:
    x = torch.tensor([[[[0.0, 1.0], [3.0, 3.0]]]])
    # Vertical: |3 - 0| + |3 - 1| = 5; horizontal: |1 - 0| + |3 - 3| = 1.
    assert optimal.total_variation(x).tolist() == [6.0]
    torch.manual_seed(1)
    model = create_model("digitcnn", num_classes=10).eval()
    graph = receptive_field.trace(model)
    layer = receptive_field.truncate(graph, "features.3")
    plain, _ = optimal.maximise(layer, 4, (1, 28, 28), optimal.Ascent(steps=60, radius=5.0))
    smooth, _ = optimal.maximise(layer, 4, (1, 28, 28),
                                 optimal.Ascent(steps=60, radius=5.0, total_variation=0.5))
    assert (optimal.total_variation(smooth) < optimal.total_variation(plain)).all()


def test_the_ascent_is_seeded() -> None:
    model = create_model("digitcnn", num_classes=10).eval()
    layer = receptive_field.truncate(receptive_field.trace(model), "features.3")
    first, _ = optimal.maximise(layer, 3, (1, 28, 28), optimal.Ascent(steps=5, seed=4))
    again, _ = optimal.maximise(layer, 3, (1, 28, 28), optimal.Ascent(steps=5, seed=4))
    assert torch.equal(first, again)
    other, _ = optimal.maximise(layer, 3, (1, 28, 28), optimal.Ascent(steps=5, seed=5))
    assert not torch.equal(first, other)
