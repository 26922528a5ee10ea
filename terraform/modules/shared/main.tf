# Shared resources: the APIs, the bucket, one service account per service, the secrets.

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "api" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}

# --- Service accounts: least privilege, one per service ---------------------------------
resource "google_service_account" "mcp" {
  project      = var.project_id
  account_id   = "thoth-mcp"
  display_name = "Thoth MCP server (reads the bucket)"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "thoth-ingestion"
  display_name = "Thoth ingestion worker (writes the bucket, enqueues tasks)"

  depends_on = [google_project_service.api]
}

# --- The bucket (DESIGN 1: GCS is the only store) ----------------------------------------
resource "google_storage_bucket" "thoth" {
  #checkov:skip=CKV_GCP_62:Access is logged by Cloud Audit Logs (Data Access logs for storage.googleapis.com, docs/deployment.md); a second log bucket would only duplicate them.
  project                     = var.project_id
  name                        = var.bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  # Versioning: the pointer's compare-and-swap writes and the index garbage collection leave
  # noncurrent versions behind, so an overwritten or deleted object can be recovered.
  versioning {
    enabled = true
  }

  # Lifecycle: live objects under sources/, indexes/, registry/ and locks/ are never deleted
  # by age. Only (1) noncurrent versions past their retention and (2) old job records and
  # batch outputs (jobs/) go.
  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      with_state     = "LIVE"
      age            = var.job_retention_days
      matches_prefix = ["jobs/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# The MCP server only reads: objects (snapshots, pointers) and listings.
resource "google_storage_bucket_iam_member" "mcp_reads" {
  bucket = google_storage_bucket.thoth.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.mcp.member
}

# The worker writes: source mirrors, jobs, batch outputs, snapshots, pointers, and deletes
# old index versions (garbage collection by count).
resource "google_storage_bucket_iam_member" "worker_writes" {
  bucket = google_storage_bucket.thoth.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.worker.member
}

# --- Secrets: containers only; values are added with `gcloud secrets versions add` ------
resource "google_secret_manager_secret" "secret" {
  for_each = toset(var.secret_ids)

  project   = var.project_id
  secret_id = each.key
  labels    = var.labels

  # The values were added by hand and Terraform cannot recreate them: a destroy, or a secret
  # dropped from secret_ids, fails instead of deleting the secret with its versions.
  deletion_protection = true

  # Must match `gcloud secrets create --replication-policy=automatic` (docs/deployment.md):
  # replication cannot change without replacing the secret.
  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

# The worker reads the GitLab secrets (Cloud Run resolves secret env vars as the runtime SA);
# gitlab-webhook-token is the receiver's alone (modules/webhook).
# huggingface-token is read by nobody at run time: models are baked into the images and
# loaded offline (DESIGN 5); it is for building images with a custom model.
resource "google_secret_manager_secret_iam_member" "worker_gitlab" {
  for_each = toset([for id in var.secret_ids : id if contains(["gitlab-token", "gitlab-url"], id)])

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.worker.member
}

resource "google_secret_manager_secret_iam_member" "mcp_tokens" {
  count = var.mcp_tokens_secret_id == null ? 0 : 1

  project   = var.project_id
  secret_id = var.mcp_tokens_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.mcp.member
}
