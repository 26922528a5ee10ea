"""What a search accepts: the bounds the engine enforces and the tools and CLI describe."""

MAX_QUERY_CHARS = 1000
MAX_PATH_CHARS = 1024  # longer paths and prefixes are refused before any matching
MAX_NUM_RESULTS = 50
