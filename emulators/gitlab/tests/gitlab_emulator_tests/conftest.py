"""The shared fixtures, defined in support.py beside their helpers."""

from .support import clone, emulator, receiver, seeds

__all__ = ["clone", "emulator", "receiver", "seeds"]
