"""RecurModule.gather_from_ranks: the items of every DDP process, in the order one process collects them."""

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from recur_core.engine import RankShard, RecurModule


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gather_in_process(rank: int, world_size: int, port: int, size: int, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        # each process scores its RankShard of a split of `size` items; an item is (position, a payload)
        items = [
            (position, {"text": f"item {position}"}) for position in RankShard(range(size), rank, world_size, False)
        ]
        results[rank] = RecurModule().gather_from_ranks(items)
    finally:
        dist.destroy_process_group()


def test_items_of_every_process_come_back_in_the_one_process_order():
    world_size, size = 3, 8  # shares of 3, 3 and 2 items
    with mp.Manager() as manager:
        results = manager.dict()
        args = (world_size, _free_port(), size, results)
        mp.start_processes(_gather_in_process, args=args, nprocs=world_size, start_method="fork")
        gathered = dict(results)
    expected = [(position, {"text": f"item {position}"}) for position in range(size)]
    assert all(gathered[rank] == expected for rank in range(world_size)), gathered


def test_outside_ddp_the_items_are_returned_as_they_are():
    items = [torch.tensor([1.0]), "two"]
    assert RecurModule().gather_from_ranks(items) is items
