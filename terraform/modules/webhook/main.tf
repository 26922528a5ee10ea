# The GitLab webhook receiver: the one public service (DESIGN 7). A GitLab webhook cannot
# carry a Google ID token, so this small service from the ingestion image takes GitLab's calls
# itself: it checks X-Gitlab-Token against the gitlab-webhook-token secret and only enqueues
# push tasks for the private worker. It reads no bucket and calls no GitLab.

locals {
  receiver_member = google_service_account.receiver.member
}

# --- Identity: enqueue to the one queue, as the tasks identity, and read one secret --------
resource "google_service_account" "receiver" {
  project      = var.project_id
  account_id   = "thoth-webhook"
  display_name = "Thoth webhook receiver (public; enqueues push tasks only)"
}

resource "google_cloud_tasks_queue_iam_member" "receiver_enqueues" {
  project  = var.project_id
  location = var.region
  name     = var.queue_name
  role     = "roles/cloudtasks.enqueuer"
  member   = local.receiver_member
}

# A task carrying an OIDC token for thoth-tasks needs iam.serviceAccounts.actAs on it.
resource "google_service_account_iam_member" "receiver_acts_as_tasks" {
  service_account_id = var.tasks_service_account_name
  role               = "roles/iam.serviceAccountUser"
  member             = local.receiver_member
}

resource "google_secret_manager_secret_iam_member" "receiver_token" {
  project   = var.project_id
  secret_id = var.webhook_token_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = local.receiver_member
}

# --- The receiver ------------------------------------------------------------------------------
resource "google_cloud_run_v2_service" "receiver" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL" # GitLab calls it from the internet
  deletion_protection = var.deletion_protection
  labels              = var.labels
  # Public: the secret token is its gate. Cloud Run's recommended way, which (unlike an
  # allUsers binding) an organisation's domain-restricted-sharing policy does not refuse.
  invoker_iam_disabled = true

  template {
    service_account       = google_service_account.receiver.email
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    # GitLab gives a webhook 10 s; the receiver answers within ENQUEUE_BUDGET_SECONDS (6 s).
    timeout                          = "30s"
    max_instance_request_concurrency = 80

    scaling {
      min_instance_count = 0
      # Bounded: a flood of forged calls costs at most this many small instances.
      max_instance_count = 2
    }

    containers {
      image   = var.image
      command = ["python", "-m", "thoth.ingest.webhook"]

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi" # no model, no index: FastAPI and the Cloud Tasks client
        }
        cpu_idle          = true
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
        name  = "THOTH_QUEUE"
        value = var.queue_name
      }
      env {
        # Tasks go to the worker's /tasks/push, with its URL as their tokens' audience.
        name  = "THOTH_WORKER_URL"
        value = var.worker_url
      }
      env {
        name  = "THOTH_OIDC_AUDIENCE"
        value = var.worker_url
      }
      env {
        name  = "THOTH_TASKS_SERVICE_ACCOUNT"
        value = var.tasks_service_account_email
      }
      env {
        name  = "THOTH_WEBHOOK_SOURCE"
        value = var.webhook_source
      }
      env {
        name  = "THOTH_WEBHOOK_PROJECT"
        value = var.gitlab_project
      }
      env {
        name  = "THOTH_WEBHOOK_REF"
        value = var.gitlab_ref
      }
      env {
        name = "THOTH_WEBHOOK_TOKEN"
        value_source {
          secret_key_ref {
            secret  = var.webhook_token_secret
            version = "latest"
          }
        }
      }
      env {
        name  = "THOTH_HOST"
        value = "0.0.0.0"
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

      startup_probe {
        http_get {
          path = "/health"
        }
        initial_delay_seconds = 0
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 12
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # Same rule as the other services: images by the deploy workflow, traffic by rollbacks.
    ignore_changes = [
      template[0].containers[0].image,
      traffic,
      client,
      client_version,
    ]
  }

  depends_on = [
    google_cloud_tasks_queue_iam_member.receiver_enqueues,
    google_secret_manager_secret_iam_member.receiver_token,
  ]
}
