"""Fixtures for the Cloud Tasks emulator tests; they live in tasks_support.py."""

from tasks_support import client, emulator, faults, make_queue, target

__all__ = ["client", "emulator", "faults", "make_queue", "target"]
