"""The ingestion pipeline and worker: plan -> batches (parse, chunk, embed) -> finalize."""
