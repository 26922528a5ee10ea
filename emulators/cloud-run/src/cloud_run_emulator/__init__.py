"""A local emulator of Cloud Run's front door: IAM, concurrency, timeouts, probes, scale to zero."""

__version__ = "0.1.0"
