"""ReGENN: shapes, the registry contract with two core layers, the co-occurrence graph and its first-epoch freeze."""

import lightning as L
import pytest
import torch

from recur_core import get_model
from recur_core.testing import check_model
from recur_timeseries.datamodules import GraphSeriesData
from recur_timeseries.models.baselines import PerVariableAR
from recur_timeseries.models.regenn import ReGENN, cooccurrence_adjacency, cosine_similarity_matrix
from recur_timeseries.task import ForecastModule


def test_registered_with_the_contract_defaults():
    model = get_model("regenn")
    assert isinstance(model, ReGENN)
    model = get_model("regenn", input_len=10, horizon=3, channels=5)
    assert model(torch.rand(4, 10, 5)).shape == (4, 3, 5)


@pytest.mark.parametrize("layer", ["lstm", "gru"])
def test_check_model_with_core_layers(one_thread, layer):
    model = ReGENN(input_len=12, horizon=3, channels=6, layer=layer, feedforward=32)
    check_model(model)
    out = model.eval()(*model.example_input(5))
    assert out.shape == (5, 3, 6) and (out >= 0).all()  # the official ReLU output


def test_gate_width_lets_wider_layers_in(one_thread):
    # GLA needs a width that its 4 heads divide: the gate gets 16, the sequencer runs at V = 8
    model = ReGENN(input_len=8, horizon=2, channels=8, layer="gla", gate_width=16, feedforward=16)
    check_model(model)


def test_options_and_bad_input():
    plain = ReGENN(input_len=8, horizon=2, channels=3, encoder=False, sequencer=False, autoregression=False)
    assert plain.encoder is None and plain.sequencer is None and plain.autoregression is None
    linear = ReGENN(input_len=8, horizon=2, channels=3, output="identity").eval()
    assert (linear(-torch.rand(64, 8, 3)) < 0).any()
    with pytest.raises(ValueError, match="channels must be at least 2"):
        ReGENN(channels=1)
    with pytest.raises(ValueError, match=r"expects x \[batch, 8, 3\]"):
        linear(torch.rand(2, 8, 4))
    with pytest.raises(ValueError, match="output must be"):
        ReGENN(output="tanh")


def test_cooccurrence_adjacency_by_hand():
    # one sample, two steps, three variables: A[b, c] = sum of x_b where x_c > 0
    x = torch.tensor([[[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]]])
    off_diagonal = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [2.0, 1.0, 0.0]])
    # diagonal: max(0, 2·A[b, b] − Σ_c A[b, c]) = max(0, 2 − 2), max(0, 6 − 6), max(0, 6 − 6)
    torch.testing.assert_close(cooccurrence_adjacency(x), off_diagonal)
    # a variable that is always present alone keeps a self-loop
    lone = torch.tensor([[[5.0, 0.0], [4.0, 0.0]]])
    torch.testing.assert_close(cooccurrence_adjacency(lone), torch.tensor([[9.0, 0.0], [0.0, 0.0]]))
    a = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    torch.testing.assert_close(
        cosine_similarity_matrix(a), torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    )


def test_graph_accumulates_in_training_mode_only_until_frozen():
    model = ReGENN(input_len=6, horizon=2, channels=3, feedforward=8)
    x = torch.rand(4, 6, 3)
    model.eval()(x)
    assert model.source.adjacency.abs().sum() == 0  # evaluation never adds
    model.train()(x)
    once = model.source.adjacency.clone()
    torch.testing.assert_close(once, cooccurrence_adjacency(x))
    model(x)
    torch.testing.assert_close(model.source.adjacency, 2 * once)
    model.on_train_epoch_end(0)
    model(x)
    torch.testing.assert_close(model.source.adjacency, 2 * once)
    # the graph and the flag travel in the state dict (checkpoints)
    restored = ReGENN(input_len=6, horizon=2, channels=3, feedforward=8)
    restored.load_state_dict(model.state_dict())
    assert bool(restored.source.frozen) and torch.equal(restored.source.adjacency, model.source.adjacency)


def test_the_task_freezes_the_graph_after_the_first_epoch(one_thread, tmp_path):
    data = GraphSeriesData(dataset="diffusion", num_nodes=5, steps=120, input_len=8, horizon=2, batch_size=16)
    task = ForecastModule(
        "regenn", {"feedforward": 16}, input_len=8, horizon=2, channels=5, loss="mae", scheduler="constant"
    )
    seen = []

    class Watch(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            seen.append(module.net.source.adjacency.clone())

    trainer = L.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Watch()],
        default_root_dir=tmp_path,
    )
    trainer.fit(task, data)
    train = data.dataset("train")
    # the first epoch summed every training window once, then nothing changed (the sanity validation
    # before it and the validation after every epoch added nothing). The diffusion is positive almost
    # everywhere, so the per-batch self-loop clamp is 0 whatever the batch order and the sum is exact.
    expected = sum(cooccurrence_adjacency(train.inputs[i : i + 16]) for i in range(0, len(train), 16))
    assert bool(task.net.source.frozen)
    torch.testing.assert_close(seen[0], expected, rtol=1e-4, atol=1e-3)
    assert torch.equal(seen[0], seen[1]) and torch.equal(seen[1], seen[2])


def test_per_variable_ar_fits_each_channel_on_its_own():
    torch.manual_seed(0)
    x = torch.randn(400, 5, 3)
    weight = torch.randn(3, 5, 2)
    y = torch.einsum("nlc,clh->nhc", x, weight) + torch.tensor([0.5, -1.0, 2.0])
    fitted = PerVariableAR.fit(x, y)
    torch.testing.assert_close(fitted.weight, weight.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(fitted.predict(x), y.double(), atol=1e-5, rtol=0)
