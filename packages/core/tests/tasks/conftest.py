import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test that trains a small model with one intra-op thread.

    The models are tiny; on a shared 2-core machine two threads mostly wait on each other.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
