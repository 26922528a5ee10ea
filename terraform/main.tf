# Thoth on Google Cloud: one bucket, two Cloud Run services, one Cloud Tasks queue.
# Layout and every decision are explained in docs/deployment.md; the Cloud Run numbers come
# from the deployment document (summarised in DESIGN: "Cloud Run settings").

terraform {
  # 1.7: `for_each` in `import` blocks (the secrets below).
  required_version = ">= 1.7"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
  }

  # Partial configuration: the state bucket is given at init time, e.g.
  #   terraform init -backend-config="bucket=PROJECT-tfstate" -backend-config="prefix=thoth/dev"
  # (docs/deployment.md, "State"). Terraform Cloud users swap this block for `cloud {}`.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  mcp_service_name     = "thoth-mcp"
  worker_service_name  = "thoth-ingestion"
  queue_name           = "thoth-ingest"
  bucket_name          = coalesce(var.bucket_name, "${var.project_id}-thoth")
  webhook_service_name = "thoth-webhook"
  # The webhook receiver exists only for a GitLab project to listen to.
  webhook_enabled = var.webhook_gitlab_project != null
  # DESIGN: "Secrets in Secret Manager: gitlab-token, gitlab-url, huggingface-token"; the
  # receiver adds GitLab's webhook secret token.
  base_secret_ids   = ["gitlab-token", "gitlab-url", "huggingface-token"]
  webhook_secret_id = "gitlab-webhook-token"
  secret_ids        = concat(local.base_secret_ids, local.webhook_enabled ? [local.webhook_secret_id] : [])

  # Cloud Run's deterministic URL, https://SERVICE-PROJECT_NUMBER.REGION.run.app, is known
  # before the service exists. The worker needs its own URL in its environment
  # (THOTH_WORKER_URL: task URLs and the OIDC audience) and the MCP server needs its own
  # hostname (THOTH_ALLOWED_HOSTS): reading `google_cloud_run_v2_service.uri` instead would
  # make a service depend on itself, or need a second apply.
  mcp_host   = "${local.mcp_service_name}-${data.google_project.this.number}.${var.region}.run.app"
  worker_url = "https://${local.worker_service_name}-${data.google_project.this.number}.${var.region}.run.app"

  labels = merge({ app = "thoth", managed-by = "terraform" }, var.labels)
}

# The secrets are created by hand, with their values, before the first deploy
# (docs/deployment.md, "Secrets"): values never pass through Terraform code or state.
# Terraform adopts the (value-less) secret resources and manages their IAM; once imported,
# these blocks are no-ops.
import {
  for_each = toset(local.secret_ids)
  to       = module.shared.google_secret_manager_secret.secret[each.key]
  id       = "projects/${var.project_id}/secrets/${each.key}"
}

module "shared" {
  source = "./modules/shared"

  project_id                        = var.project_id
  region                            = var.region
  bucket_name                       = local.bucket_name
  secret_ids                        = local.secret_ids
  job_retention_days                = var.job_retention_days
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
  mcp_tokens_secret_id              = var.mcp_tokens_secret_id
  labels                            = local.labels
}

module "mcp" {
  source = "./modules/mcp"

  project_id            = var.project_id
  region                = var.region
  service_name          = local.mcp_service_name
  image                 = var.mcp_image
  service_account_email = module.shared.mcp_service_account_email
  bucket_name           = module.shared.bucket_name
  host                  = local.mcp_host
  extra_allowed_hosts   = var.mcp_extra_allowed_hosts
  mcp_tokens_secret_id  = var.mcp_tokens_secret_id
  embedding_model       = var.embedding_model
  index_poll_seconds    = var.index_poll_seconds
  log_level             = var.log_level
  invoker_members       = var.mcp_invoker_members
  deployer_member       = "serviceAccount:${var.deployer_service_account}"
  deletion_protection   = var.deletion_protection
  labels                = local.labels

  depends_on = [module.shared]
}

module "ingestion" {
  source = "./modules/ingestion"

  project_id            = var.project_id
  region                = var.region
  service_name          = local.worker_service_name
  image                 = var.ingestion_image
  service_account_email = module.shared.worker_service_account_email
  bucket_name           = module.shared.bucket_name
  worker_url            = local.worker_url
  queue_name            = local.queue_name
  gitlab_token_secret   = module.shared.secret_names["gitlab-token"]
  gitlab_url_secret     = module.shared.secret_names["gitlab-url"]
  embedding_model       = var.embedding_model
  batch_files           = var.batch_files
  index_keep_versions   = var.index_keep_versions
  log_level             = var.log_level
  sync_sources          = var.sync_sources
  sync_schedule         = var.sync_schedule
  sync_time_zone        = var.sync_time_zone
  invoker_members       = var.worker_invoker_members
  deployer_member       = "serviceAccount:${var.deployer_service_account}"
  deletion_protection   = var.deletion_protection
  labels                = local.labels

  depends_on = [module.shared]
}

module "webhook" {
  source = "./modules/webhook"
  count  = local.webhook_enabled ? 1 : 0

  project_id                  = var.project_id
  region                      = var.region
  service_name                = local.webhook_service_name
  image                       = var.ingestion_image
  queue_name                  = module.ingestion.queue_name
  worker_url                  = local.worker_url
  tasks_service_account_name  = module.ingestion.tasks_service_account_name
  tasks_service_account_email = module.ingestion.tasks_service_account_email
  webhook_token_secret        = module.shared.secret_names[local.webhook_secret_id]
  webhook_source              = var.webhook_source
  gitlab_project              = var.webhook_gitlab_project
  gitlab_ref                  = var.webhook_gitlab_ref
  log_level                   = var.log_level
  deletion_protection         = var.deletion_protection
  labels                      = local.labels

  depends_on = [module.shared]
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id          = var.project_id
  notification_emails = var.alert_notification_emails
  services = merge(
    {
      (local.mcp_service_name) = {
        max_instances = module.mcp.max_instances
        # Queries must be fast; the worker's requests are minute-long batches by design.
        latency_alert = true
      }
      (local.worker_service_name) = {
        max_instances = module.ingestion.max_instances
        latency_alert = false
      }
    },
    {
      # The receiver only checks a token and enqueues: it must answer well within GitLab's 10 s.
      for receiver in module.webhook : local.webhook_service_name => {
        max_instances = receiver.max_instances
        latency_alert = true
      }
    },
  )

  depends_on = [module.shared]
}
