# The ingestion worker, its Cloud Tasks queue, the task-token identity, the periodic sync.

locals {
  worker_member = "serviceAccount:${var.service_account_email}"
}

# --- Identities ------------------------------------------------------------------------
# Cloud Tasks attaches an OIDC token for this account to every task (DESIGN 7); the worker
# checks issuer, audience and this email (THOTH_TASKS_SERVICE_ACCOUNT).
resource "google_service_account" "tasks" {
  project      = var.project_id
  account_id   = "thoth-tasks"
  display_name = "Thoth Cloud Tasks OIDC identity (invokes the worker's /tasks/*)"
}

# Cloud Scheduler's identity for the periodic sync (POST /v1/ingest).
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "thoth-scheduler"
  display_name = "Thoth scheduler (periodic incremental sync)"
}

# Creating a task that carries an OIDC token for thoth-tasks requires
# iam.serviceAccounts.actAs on thoth-tasks for whoever calls CreateTask: the worker.
resource "google_service_account_iam_member" "worker_acts_as_tasks" {
  service_account_id = google_service_account.tasks.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.worker_member
}

# Cloud Tasks' service agent mints the tokens. Its default role covers this in projects
# created since 2019; the explicit grant makes older projects work too.
resource "google_project_service_identity" "cloudtasks" {
  provider = google-beta
  project  = var.project_id
  service  = "cloudtasks.googleapis.com"
}

resource "google_service_account_iam_member" "cloudtasks_agent_mints_tokens" {
  service_account_id = google_service_account.tasks.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.cloudtasks.email}"
}

# --- The queue ---------------------------------------------------------------------------
# Matched to the worker (docs/deployment.md, "Queue settings"):
# - max_concurrent_dispatches 10 = worker max instances (10) x concurrency (1): Cloud Tasks
#   never sends more batches than the worker can take, so none is refused with 429.
# - max_dispatches_per_second 5: cold starts ramp up over a few seconds instead of bursting.
# - retries: 10s, 20s, 40s, 80s, 160s, then 300s: about 25 minutes of waits over the 9 retries
#   after the first attempt (plus the attempts themselves), long
#   enough to ride out a deploy, a crashed instance or a GitLab/GCS hiccup; batches are
#   idempotent (DESIGN 3), so a retry is always safe.
# The dispatch deadline is per task: src/thoth/ingest/tasks.py DISPATCH_DEADLINE = 15 minutes, equal
# to the worker's request timeout below (900s), and above a batch's run time (< 5 minutes
# for THOTH_BATCH_FILES=32). Either ending a request would retry a batch that is still
# running, so a batch starts no further file after THOTH_BATCH_BUDGET_SECONDS (480 s) and hands its
# other files to a follow-up task (src/thoth/ingest/pipeline/parts.py).
resource "google_cloud_tasks_queue" "ingest" {
  project  = var.project_id
  name     = var.queue_name
  location = var.region

  rate_limits {
    max_concurrent_dispatches = 10
    max_dispatches_per_second = 5
  }

  retry_config {
    max_attempts       = 10
    min_backoff        = "10s"
    max_backoff        = "300s"
    max_doublings      = 4
    max_retry_duration = "0s" # unlimited: max_attempts bounds the retries
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }
}

resource "google_cloud_tasks_queue_iam_member" "worker_enqueues" {
  project  = var.project_id
  location = google_cloud_tasks_queue.ingest.location
  name     = google_cloud_tasks_queue.ingest.name
  role     = "roles/cloudtasks.enqueuer"
  member   = local.worker_member
}

# --- The worker ---------------------------------------------------------------------------
resource "google_cloud_run_v2_service" "worker" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL" # Cloud Tasks and Cloud Scheduler call it; IAM guards it
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account       = var.service_account_email
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    # Equal to the dispatch deadline the app puts on every task (src/thoth/ingest/tasks.py
    # DISPATCH_DEADLINE = 15 minutes).
    timeout = "900s"
    # One batch per instance: embedding uses the whole CPU.
    max_instance_request_concurrency = 1

    scaling {
      min_instance_count = 0
      max_instance_count = 10
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "2Gi" # model, carried-over rows, the snapshot built under /tmp; 4Gi past ~100k chunks
        }
        cpu_idle          = true # all work happens inside a request
        startup_cpu_boost = true
      }

      env {
        name  = "THOTH_PROJECT"
        value = var.project_id
      }
      env {
        name  = "THOTH_LOCATION"
        value = var.region
      }
      env {
        name  = "THOTH_BUCKET"
        value = var.bucket_name
      }
      env {
        name  = "THOTH_QUEUE"
        value = google_cloud_tasks_queue.ingest.name
      }
      env {
        name  = "THOTH_WORKER_URL"
        value = var.worker_url
      }
      env {
        name  = "THOTH_TASKS_SERVICE_ACCOUNT"
        value = google_service_account.tasks.email
      }
      env {
        # Behind Cloud Run IAM: the worker reads the claims of the token IAM forwarded
        # (signature removed) and never re-verifies a signature (docs/design.md §7).
        name  = "THOTH_AUTH"
        value = "iam"
      }
      env {
        # Who may call /v1: the scheduler, the deployer and the listed invokers, by email
        # (IAM members are "user:EMAIL" or "serviceAccount:EMAIL").
        name = "THOTH_WORKER_CALLERS"
        value = join(",", concat(
          [google_service_account.scheduler.email, split(":", var.deployer_member)[1]],
          [for member in var.invoker_members : split(":", member)[1]],
        ))
      }
      env {
        # What the worker expects in `aud` and what it asks Cloud Tasks to put there; the
        # run.app URL is also an audience Cloud Run's own IAM check accepts.
        name  = "THOTH_OIDC_AUDIENCE"
        value = var.worker_url
      }
      env {
        name  = "THOTH_BATCH_FILES"
        value = tostring(var.batch_files)
      }
      env {
        name  = "THOTH_INDEX_KEEP_VERSIONS"
        value = tostring(var.index_keep_versions)
      }
      env {
        name  = "THOTH_EMBEDDING_MODEL"
        value = var.embedding_model
      }
      env {
        name  = "THOTH_HOST"
        value = "0.0.0.0"
      }
      # glibc gives threads their own heap arenas (up to 8 per CPU); what LanceDB's reader
      # threads free there stays resident, and Cloud Run counts it. Two arenas: a lower peak
      # in finalize (docs/performance.md, "Worker memory").
      env {
        name  = "MALLOC_ARENA_MAX"
        value = "2"
      }
      # uvicorn believes X-Forwarded-Proto/-For from loopback only by default; Cloud Run's
      # front end is the one way in but not loopback, so without this a trailing-slash
      # redirect sent clients to http:// and logs named the front end as the client.
      env {
        name  = "THOTH_FORWARDED_ALLOW_IPS"
        value = "*"
      }
      # A container is not told its CPU limit, and may see more CPUs than it has: thread
      # pools are sized by this (thoth.cpus). Keep it equal to limits.cpu (a test checks).
      env {
        name  = "THOTH_CPUS"
        value = "1"
      }
      env {
        name  = "THOTH_LOG_FORMAT"
        value = "json"
      }
      env {
        name  = "THOTH_LOG_LEVEL"
        value = var.log_level
      }
      env {
        name  = "THOTH_CACHE_DIR"
        value = "/tmp/thoth"
      }
      env {
        name = "THOTH_GITLAB_URL"
        value_source {
          secret_key_ref {
            secret  = var.gitlab_url_secret
            version = "latest"
          }
        }
      }
      env {
        name = "THOTH_GITLAB_TOKEN"
        value_source {
          secret_key_ref {
            secret  = var.gitlab_token_secret
            version = "latest"
          }
        }
      }

      # /health answers as soon as uvicorn listens. With concurrency 1 a busy instance still
      # answers probes (handlers run in a thread pool), but one vCPU embedding can be slow
      # to: liveness is lenient (5 misses x 30 s) so a long batch is never killed.
      startup_probe {
        http_get {
          path = "/health"
        }
        initial_delay_seconds = 0
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 30
        timeout_seconds   = 10
        failure_threshold = 5
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # Same rule as the MCP server: images by the deploy workflow, traffic by rollbacks.
    ignore_changes = [
      template[0].containers[0].image,
      traffic,
      client,
      client_version,
    ]
  }

  depends_on = [google_cloud_tasks_queue_iam_member.worker_enqueues]
}

# --- Who may call the worker (never allUsers) ---------------------------------------------
resource "google_cloud_run_v2_service_iam_member" "tasks_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = google_service_account.tasks.member
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_run_v2_service_iam_member" "deployer_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = var.deployer_member
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = each.key
}

# --- Periodic incremental sync ------------------------------------------------------------
# POST /v1/ingest {"source": NAME}: the planner syncs the mirror and re-embeds only changed
# files (DESIGN 3), so an hourly run over an unchanged handbook costs one listing.
resource "google_cloud_scheduler_job" "sync" {
  for_each = toset(var.sync_sources)

  project          = var.project_id
  region           = var.region
  name             = "thoth-sync-${each.key}"
  description      = "Incremental ingest of source ${each.key}"
  schedule         = var.sync_schedule
  time_zone        = var.sync_time_zone
  attempt_deadline = "60s" # /v1/ingest answers 202 once the job is enqueued

  retry_config {
    retry_count = 0 # 409 means a job is already running: the next slot will catch up
  }

  http_target {
    http_method = "POST"
    uri         = "${var.worker_url}/v1/ingest"
    body        = base64encode(jsonencode({ source = each.key }))
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = var.worker_url
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invoker]
}
