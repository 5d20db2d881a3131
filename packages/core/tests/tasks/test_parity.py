"""Parity: labels, lengths, seeding, the DataModule, speed, and that an LSTM can learn it."""

import time

import pytest
import torch
from torch import nn

from recur_core.models import SequenceModel
from recur_core.tasks import IGNORE_INDEX, PAD_ID, ParityData, generate_parity, split_generator


def _bits(inputs, length):
    # Token ids 1 and 2 stand for the bits 0 and 1.
    return [int(t) - 1 for t in inputs[:length]]


def test_labels_are_the_parity_of_the_ones():
    data = generate_parity(64, (1, 30), torch.Generator().manual_seed(0))
    assert data.targets.shape == (64,)
    for i in range(64):
        bits = _bits(data.inputs[i], int(data.lengths[i]))
        assert set(bits) <= {0, 1}
        assert int(data.targets[i]) == sum(bits) % 2


def test_running_targets_are_prefix_parities():
    # Strings of up to 300 bits: the int8 running sum wraps, which must not change its parity.
    data = generate_parity(16, (250, 300), torch.Generator().manual_seed(1), running=True)
    assert data.targets.shape == data.inputs.shape == (16, 300)
    for i in range(16):
        length = int(data.lengths[i])
        bits = _bits(data.inputs[i], length)
        assert data.targets[i, :length].tolist() == [sum(bits[: t + 1]) % 2 for t in range(length)]
        assert (data.targets[i, length:] == IGNORE_INDEX).all()


def test_lengths_cover_the_inclusive_range_and_padding_is_pad_id():
    data = generate_parity(2000, (3, 9), torch.Generator().manual_seed(2))
    assert set(data.lengths.tolist()) == set(range(3, 10))
    assert data.inputs.shape == (2000, 9)
    padding = torch.arange(9) >= data.lengths[:, None]
    assert (data.inputs[padding] == PAD_ID).all()
    assert ((data.inputs[~padding] == 1) | (data.inputs[~padding] == 2)).all()


def test_labels_are_balanced():
    data = generate_parity(4000, (3, 40), torch.Generator().manual_seed(3))
    assert 0.45 < data.targets.float().mean().item() < 0.55


def test_same_seed_same_data_other_seed_other_data():
    def make(seed):
        return generate_parity(100, (3, 40), split_generator(seed, "train"))

    a, b, c = make(0), make(0), make(1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and torch.equal(a.lengths, b.lengths)
    assert not torch.equal(a.inputs, c.inputs)


def test_ten_thousand_long_strings_take_well_under_a_second():
    generator = torch.Generator().manual_seed(0)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        generate_parity(10_000, (40, 256), generator, running=True)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5, f"10k parity strings of length 40-256 took {best:.2f} s"


def test_datamodule_defaults_follow_the_paper():
    data = ParityData(num_train=200, num_val=100, num_test=100)
    assert (data.vocab_size, data.num_classes, data.readout) == (3, 2, "last")
    assert (data.train_lengths, data.test_lengths, data.batch_size) == ((3, 40), (40, 256), 256)
    data.setup()
    for split, (lo, hi) in (("train", (3, 40)), ("val", (40, 256)), ("test", (40, 256))):
        lengths = data.dataset(split).lengths
        assert lo <= int(lengths.min()) and int(lengths.max()) <= hi, split


def test_validation_on_train_lengths():
    data = ParityData(train_lengths=(2, 5), test_lengths=(50, 60), val_on="train_lengths", num_val=50)
    data.setup("validate")
    assert int(data.dataset("val").lengths.max()) <= 5


def test_dataloader_batch():
    data = ParityData(train_lengths=(2, 12), num_train=100, batch_size=32)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    inputs, targets, lengths = batch["inputs"], batch["targets"], batch["lengths"]
    assert inputs.dtype == targets.dtype == lengths.dtype == torch.long
    assert targets.shape == lengths.shape == (32,)
    assert inputs.shape == (32, int(lengths.max()))
    for row, length, label in zip(inputs, lengths, targets):
        assert (row[length:] == PAD_ID).all()
        assert int(label) == sum(_bits(row, int(length))) % 2


def test_running_dataloader_batch_is_per_token():
    data = ParityData(running=True, num_val=40, batch_size=8)
    assert data.readout == "token"
    data.setup("validate")
    batch = next(iter(data.val_dataloader()))
    assert batch["targets"].shape == batch["inputs"].shape
    padding = torch.arange(batch["inputs"].shape[1]) >= batch["lengths"][:, None]
    assert (batch["targets"][padding] == IGNORE_INDEX).all()
    assert (batch["targets"][~padding] >= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_lengths": (40, 3)}, r"train_lengths must be in order.*\(3, 40\)"),
        ({"test_lengths": (0, 10)}, "test_lengths lower bound"),
        ({"val_on": "test"}, "val_on must be 'test_lengths' or 'train_lengths'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ParityData(**kwargs)


def test_lstm_learns_short_parity():
    """A one-layer LSTM beats chance clearly on held-out strings of the training lengths."""
    train = generate_parity(4096, (2, 10), split_generator(0, "train"))
    held_out = generate_parity(1000, (2, 10), split_generator(0, "test"))
    threads = torch.get_num_threads()
    # One thread: the model is tiny, and on a shared 2-core box two threads mostly wait on each other.
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = SequenceModel(layer="lstm", vocab_size=3, output_dim=2, readout="last", d_model=32, n_layers=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        order = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        while time.perf_counter() - start < 8.0:
            index = torch.randint(len(train), (128,), generator=order)
            logits = model(train.inputs[index].long(), train.lengths[index])
            loss = nn.functional.cross_entropy(logits, train.targets[index].long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if loss.item() < 0.02:
                break
        with torch.no_grad():
            predictions = model(held_out.inputs.long(), held_out.lengths).argmax(-1)
    finally:
        torch.set_num_threads(threads)
    accuracy = (predictions == held_out.targets).float().mean().item()
    assert accuracy > 0.85, f"held-out parity accuracy {accuracy:.3f} (chance 0.5)"
