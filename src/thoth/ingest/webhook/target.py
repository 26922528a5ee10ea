"""What one receiver accepts: pushes to one branch of one GitLab project, for one source,
signed with one secret token."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pydantic import SecretStr

from thoth.config import Settings
from thoth.errors import InvalidInputError
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.webhook.event import BRANCH_PREFIX, PushHook
from thoth.secrets import secret_value

SECRET_ID = "gitlab-webhook-token"  # noqa: S105 (a secret's name)


class ReceiverConfigError(InvalidInputError):
    """The receiver's settings are incomplete; it does not start."""


@dataclass(frozen=True)
class Target:
    source: str
    project: str  # numeric id or path_with_namespace
    ref: str  # refs/heads/<branch>
    token: SecretStr

    @classmethod
    def from_settings(cls, settings: Settings, token: str | None = None) -> Target:
        """The receiver's target; the token from settings, else Secret Manager."""
        if not settings.webhook_source or not settings.webhook_project:
            raise ReceiverConfigError(
                "the webhook receiver needs THOTH_WEBHOOK_SOURCE and THOTH_WEBHOOK_PROJECT"
            )
        # The source's own rules: a valid name, project and ref, as the worker will see them.
        config = SourceConfig(
            name=settings.webhook_source,
            kind="gitlab",
            gitlab_project=settings.webhook_project,
            gitlab_ref=settings.webhook_ref,
        )
        secret = token or secret_value(settings.webhook_token, SECRET_ID, settings.project)
        if not secret:
            raise ReceiverConfigError(
                f"no webhook secret token: set THOTH_WEBHOOK_TOKEN or the {SECRET_ID} secret"
            )
        assert config.gitlab_project is not None
        return cls(
            config.name, config.gitlab_project, _full_ref(config.gitlab_ref), SecretStr(secret)
        )

    def token_matches(self, presented: str | None) -> bool:
        """Constant-time comparison, so the answer's timing says nothing about the secret."""
        if presented is None:
            return False
        expected = self.token.get_secret_value().encode()
        return hmac.compare_digest(presented.encode(), expected)

    def project_matches(self, hook: PushHook) -> bool:
        if self.project.isdigit():
            found = hook.project_id if hook.project_id is not None else hook.project.id
            return found is not None and str(found) == self.project
        path = hook.project.path_with_namespace
        # GitLab resolves project paths without regard to case.
        return path is not None and path.lower() == self.project.lower()


def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else BRANCH_PREFIX + ref
