"""Recoding: signals by hand, alpha = 0 is plain inference, the state step vs finite differences, the engine."""

import math

import lightning as L
import pytest
import torch

from recur_core.engine import quiet_trainer
from recur_core.engine.module import SequenceTask
from recur_core.models import SequenceModel
from recur_core.tasks import ReberData
from recur_core.techniques.recoding import Recoder, recoding_signal


def test_signals_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, -1.0, 0.5]])
    entropy = recoding_signal(logits, "entropy")
    assert entropy[0].item() == pytest.approx(math.log(4))
    p = logits[1].softmax(-1)
    assert entropy[1].item() == pytest.approx(float(-(p * p.log()).sum()))
    surprisal = recoding_signal(logits, "surprisal", torch.tensor([2, -100]))
    assert surprisal.tolist() == pytest.approx([math.log(4), 0.0])
    with pytest.raises(ValueError, match="targets"):
        recoding_signal(logits, "surprisal")


@pytest.mark.parametrize("layer", ["lstm", "gru", "leaky_rnn"])
def test_alpha_zero_is_plain_inference(layer):
    torch.manual_seed(0)
    model = SequenceModel(layer=layer, d_model=8, n_layers=2, vocab_size=5, output_dim=5).double().eval()
    x = torch.randint(0, 5, (3, 7))
    plain = model(x)
    torch.testing.assert_close(Recoder(model, alpha=0.0)(x), plain)
    # the first prediction comes before any recoding; later ones move
    recoded = Recoder(model, alpha=1.0)(x)
    torch.testing.assert_close(recoded[:, 0], plain[:, 0])
    assert (recoded[:, 1:] - plain[:, 1:]).abs().max() > 1e-6


@pytest.mark.parametrize("signal", ["entropy", "surprisal"])
def test_state_step_matches_finite_differences(signal):
    torch.manual_seed(1)
    model = SequenceModel(layer="leaky_rnn", d_model=6, n_layers=1, vocab_size=4, output_dim=4).double().eval()
    x0, target = torch.tensor([1, 3]), torch.tensor([2, 0])
    alpha = 0.3
    _, (state,) = model.step(x0)
    _, (recoded,) = Recoder(model, alpha=alpha, signal=signal).step(x0, None, target)
    block = model.blocks[0]

    def delta(r):  # the prediction from state r, written out for one leaky_rnn block
        h = model.stem(x0) + block.mixer.readout(r)
        h = h + block.mlp(block.mlp_norm(h))
        return recoding_signal(model.head(model.norm(h)), signal, target)

    eps, grad = 1e-6, torch.zeros_like(state)
    with torch.no_grad():
        for j in range(state.shape[1]):
            bump = torch.zeros_like(state)
            bump[:, j] = eps
            grad[:, j] = (delta(state + bump) - delta(state - bump)) / (2 * eps)
    torch.testing.assert_close(recoded, state - alpha * grad, rtol=1e-6, atol=1e-8)


def test_rows_are_recoded_independently():
    torch.manual_seed(2)
    model = SequenceModel(layer="lstm", d_model=8, n_layers=1, vocab_size=5, output_dim=5).double().eval()
    x = torch.randint(0, 5, (4, 6))
    recoder = Recoder(model, alpha=0.5)
    batched = recoder(x)
    torch.testing.assert_close(torch.cat([recoder(x[i : i + 1]) for i in range(4)]), batched)


def test_bad_input():
    model = SequenceModel(layer="lstm", d_model=8, n_layers=1, vocab_size=5, output_dim=5)
    with pytest.raises(ValueError, match="alpha"):
        Recoder(model, alpha=-1.0)
    with pytest.raises(ValueError, match="targets"):
        Recoder(model, signal="surprisal")(torch.randint(0, 5, (2, 4)))
    with pytest.raises(ValueError, match="readout"):
        Recoder(SequenceModel(layer="lstm", d_model=8, vocab_size=5, readout="last"))


def test_recodes_a_model_trained_through_the_engine(tmp_path, one_thread):
    L.seed_everything(0)
    data = ReberData((9, 12), (9, 12), num_train=64, num_val=16, num_test=16, batch_size=16)
    module = SequenceTask("lstm", d_model=16, n_layers=1, vocab_size=8, num_classes=8, readout="token", lr=1e-2)
    trainer = quiet_trainer(
        max_steps=8,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    batch = next(iter(data.train_dataloader()))
    net = module.net.eval()
    inputs, targets = batch["inputs"].long(), batch["targets"].long()
    with torch.no_grad():
        plain = net(inputs)
    torch.testing.assert_close(Recoder(net, alpha=0.0)(inputs), plain)
    # the first prediction is made before any recoding; every later one reads a recoded state
    recoded = Recoder(net, 0.05, "surprisal")(inputs, targets)
    assert torch.isfinite(recoded).all()
    torch.testing.assert_close(recoded[:, 0], plain[:, 0])
    assert not torch.allclose(recoded[:, 1:], plain[:, 1:])
