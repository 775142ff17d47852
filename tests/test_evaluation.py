"""Metrics and model loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from cnnlab import inference as ev
from cnnlab.models import create_model


def test_metrics_by_hand() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    pred = ev.Predictions(labels, predicted, np.ones(6), loss=0.5)
    m = ev.classification_metrics(pred, ["a", "b", "c"])
    assert m["test_accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = m["per_class"]
    assert (a["precision"], a["recall"]) == (1.0, pytest.approx(2 / 3))
    assert (b["precision"], b["recall"], b["f1"]) == (0.5, 0.5, 0.5)
    assert (c["precision"], c["recall"], c["support"]) == (0.5, 1.0, 1)
    assert m["errors"] == 2


def test_most_confident_errors_come_first(tmp_path: Path) -> None:
    from cnnlab.predictions import load_predictions, most_confident_errors, save_predictions

    save_predictions(tmp_path / "p.npz", np.array([0, 1, 2, 3, 4]), np.array([1, 1, 0, 0, 0]),
                     np.array([0.6, 0.99, 0.9, 0.7, 0.9]))
    arrays = load_predictions(tmp_path / "p.npz")
    # Image 1 is right however confident; images 2 and 4 tie and keep their order.
    assert most_confident_errors(**arrays, limit=10).tolist() == [2, 4, 3, 0]
    assert most_confident_errors(**arrays, limit=1).tolist() == [2]
    assert most_confident_errors(**arrays, limit=0).tolist() == []


def test_state_dict_round_trip(tmp_path: Path) -> None:
    model = create_model("lenet5")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    loaded = ev.load_trained_model("lenet5", tmp_path / "m.pt", 10, torch.device("cpu"))
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(loaded(x), model.eval()(x))


class _Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_payload_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.pt").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ev.ModelFileError, match="cannot be loaded as a plain state dict"):
        ev.load_trained_model("lenet5", tmp_path / "m.pt", 10, torch.device("cpu"))


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    torch.save(create_model("mlp").state_dict(), tmp_path / "m.pt")
    with pytest.raises(ev.ModelFileError, match="does not hold digitcnn weights"):
        ev.load_trained_model("digitcnn", tmp_path / "m.pt", 10, torch.device("cpu"))


def test_truncated_model_file(tmp_path: Path) -> None:
    torch.save(create_model("mlp").state_dict(), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ev.ModelFileError, match="delete it and rerun the train rule"):
        ev.load_trained_model("mlp", tmp_path / "m.pt", 10, torch.device("cpu"))
