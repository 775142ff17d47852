"""Top activating images: exactly the largest activations of the whole split, and the patch the
peak unit sees."""

from __future__ import annotations

import numpy as np
import torch
from cnnlab.analysis import receptive_field, top_images
from cnnlab.analysis.receptive_field import _probe_copy
from cnnlab.models import create_model


def test_the_top_images_are_the_largest_activations_of_the_whole_split() -> None:
    torch.manual_seed(0)
    model = create_model("digitcnn", num_classes=10).eval()
    images = torch.randn(300, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    peaks = top_images.channel_peaks(model, ["features.0", "features.3"], images,
                                     batch_size=64)["features.3"]
    top = top_images.top_images(peaks)
    # Independently: the whole split at once through the model itself, with a forward hook.
    seen = []
    hook = model.features[3].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        model(images)
    hook.remove()
    activations = seen[0]  # (300, 32, 14, 14)
    best, where = activations.flatten(2).max(2)
    values, expected = best.topk(top_images.TOP, dim=0)
    assert top.shape == (32, top_images.TOP)
    assert np.array_equal(top, expected.T.numpy())
    assert np.allclose(peaks.values[top[5], 5], values[:, 5].numpy(), rtol=0, atol=1e-6)
    assert np.array_equal(peaks.rows[:, 7] * 14 + peaks.cols[:, 7], where[:, 7].numpy())


def test_the_patch_is_where_the_peak_units_gradient_reaches() -> None:
    model = create_model("digitcnn", num_classes=10).eval()
    rows = {r.layer: r for r in receptive_field.analytic_table(model, 28)}
    probe = receptive_field.truncate(receptive_field.trace(_probe_copy(model)), "features.3")
    for out_row, out_col in ((0, 0), (3, 9), (13, 13)):
        x = torch.ones(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
        probe(x)[0, :, out_row, out_col].sum().backward()
        reached = torch.nonzero(x.grad[0, 0])
        box = top_images.patch(rows["features.3"], out_row, out_col, 28)
        assert box.corners() == [int(reached[:, 0].min()), int(reached[:, 0].max()),
                                 int(reached[:, 1].min()), int(reached[:, 1].max())]


def test_a_batch_norm_with_a_negative_scale_reverses_the_ranking() -> None:
    """What the next layer sees is BatchNorm's output: the top images of a channel whose scale
    is negative are those with the lowest convolution output, and they equal the top images
    of the BatchNorm's own output."""
    torch.manual_seed(2)
    model = create_model("simplecnn_bn", num_classes=10).eval()
    norm = model.features[1]
    with torch.no_grad():
        norm.weight[::3] *= -1  # every third channel reversed
        norm.running_mean.uniform_(-0.2, 0.2)
    signs = top_images.batch_norm_signs(model, ["features.0", "features.4"])
    assert set(signs) == {"features.0", "features.4"}
    assert signs["features.0"].flatten().tolist() == [-1.0 if c % 3 == 0 else 1.0 for c in range(32)]
    images = torch.randn(120, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    top = top_images.top_images(top_images.channel_peaks(model, ["features.0"], images, 50, signs)
                                ["features.0"])
    after_norm = top_images.top_images(top_images.channel_peaks(model, ["features.1"], images, 50)
                                       ["features.1"])
    assert np.array_equal(top, after_norm)


class Twice(torch.nn.Module):
    """A convolution applied twice in one forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x))


def test_a_layer_called_twice_per_pass_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="conv are not called exactly once"):
        top_images.channel_peaks(Twice(), ["conv"], torch.randn(4, 1, 8, 8))
