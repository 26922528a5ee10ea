"""What one file may cost, and the reasons a file gets when it costs more."""

from __future__ import annotations

from dataclasses import dataclass

from thoth.config import Settings
from thoth.parsing import ParseError

_MIB = 1024 * 1024
MEMORY_EXIT = 75  # a parse child's exit status after MemoryError


class BudgetExceeded(ParseError):
    """The file needed more memory or time than its budget, or crashed the parser."""


@dataclass(frozen=True)
class BudgetLimits:
    memory_mib: int = 768
    seconds: float = 30.0
    processes: int = 1
    max_chunks: int = 2000
    max_chars: int = 4000

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetLimits:
        return cls(
            memory_mib=settings.parse_memory_mib,
            seconds=settings.parse_timeout_seconds,
            processes=settings.parse_processes,
            max_chunks=settings.max_chunks_per_file,
            max_chars=settings.chunk_max_chars,
        )

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * _MIB

    def out_of_memory(self) -> BudgetExceeded:
        return BudgetExceeded(f"exceeded the {self.memory_mib} MiB parse budget")

    def out_of_time(self) -> BudgetExceeded:
        return BudgetExceeded(f"took longer than {self.seconds:g} s to parse")
