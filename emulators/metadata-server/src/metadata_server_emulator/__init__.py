"""A local emulator of the GCE/Cloud Run metadata server (identity and access tokens)."""

__version__ = "0.1.0"
