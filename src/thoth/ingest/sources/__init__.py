"""Sources: where handbook files come from (GitLab, a local folder, uploads), and how they
are mirrored into the bucket under `sources/<name>/`."""
