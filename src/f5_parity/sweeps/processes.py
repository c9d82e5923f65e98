"""The processes sharing a sweep: accelerate's PartialState (torchrun / accelerate launch), or one; only the main
process writes.
"""

from __future__ import annotations

from typing import Any


class Processes:
    """The processes sharing a sweep: accelerate's PartialState (torchrun / accelerate launch), or one."""

    def __init__(self, state=None):
        self.state = state

    @classmethod
    def from_accelerate(cls, cpu: bool) -> "Processes":
        from accelerate import PartialState

        return cls(PartialState(cpu=cpu))

    @property
    def index(self) -> int:
        return self.state.process_index if self.state else 0

    @property
    def count(self) -> int:
        return self.state.num_processes if self.state else 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def device(self, requested: str) -> str:
        """Each process its own accelerator (cuda:<local rank>) when the user asked for cuda."""
        if self.state is not None and requested.startswith("cuda") and self.count > 1:
            return str(self.state.device)
        return requested

    def share(self, items: list) -> list:
        if self.count == 1:
            return list(items)
        with self.state.split_between_processes(list(items)) as mine:
            return list(mine)

    def gather(self, items: list) -> list:
        if self.count == 1:
            return list(items)
        from accelerate.utils import gather_object

        return list(gather_object(list(items)))

    def broadcast(self, obj: Any) -> Any:
        if self.count == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj if self.is_main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]

    def main_first(self):
        import contextlib

        return self.state.main_process_first() if self.count > 1 else contextlib.nullcontext()

    def close(self) -> None:
        if self.count > 1:
            import torch.distributed as dist

            self.state.wait_for_everyone()
            if dist.is_initialized():
                dist.destroy_process_group()
