"""The index: immutable LanceDB snapshots per source, and the pointer that names the current one."""
