import pytest


@pytest.fixture
def tiny() -> list[str]:
    """Overrides that shrink a parity recipe to a few seconds of training."""
    return [
        *("--model.d_model", "8", "--model.n_layers", "1"),
        *("--data.num_train", "128", "--data.num_val", "64", "--data.num_test", "64", "--data.batch_size", "64"),
        *("--data.train_lengths", "[3, 8]", "--data.test_lengths", "[8, 12]"),
    ]
