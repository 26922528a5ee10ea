"""A local GitLab: projects as bare git repositories, git over smart HTTP, a REST API v4
subset and project push webhooks."""

__version__ = "0.1.0"
