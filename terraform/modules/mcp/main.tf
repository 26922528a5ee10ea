# The MCP server: stateless Streamable HTTP (DESIGN 6), any replica answers any request.

resource "google_cloud_run_v2_service" "mcp" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = var.service_account_email
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    timeout                          = "300s"
    max_instance_request_concurrency = 80

    scaling {
      min_instance_count = 0
      max_instance_count = 3
    }

    containers {
      image = var.image

      ports {
        container_port = 8080 # Cloud Run sets PORT=8080; the app reads PORT
      }

      resources {
        limits = {
          cpu    = "2"
          memory = "2Gi" # the snapshot cache (THOTH_CACHE_DIR on /tmp) lives in memory too
        }
        # CPU outside requests too: the index poller downloads and loads each new snapshot in
        # the background. With cpu_idle a 50,000-chunk snapshot published by a push was still
        # not served minutes later (bench/freshness.py through the front door, docs/performance.md).
        cpu_idle          = false
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
        value = "2"
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
        name  = "THOTH_INDEX_POLL_SECONDS"
        value = tostring(var.index_poll_seconds)
      }
      env {
        name  = "THOTH_EMBEDDING_MODEL"
        value = var.embedding_model
      }
      env {
        # Without the real hostname the MCP SDK's DNS-rebinding check answers 421. The deploy
        # workflow smoke-checks each new revision at its tagged URL (tag `canary`, no traffic)
        # before it takes traffic, so that hostname is allowed too.
        name  = "THOTH_ALLOWED_HOSTS"
        value = join(",", concat([var.host, "canary---${var.host}"], var.extra_allowed_hosts))
      }

      dynamic "env" {
        for_each = var.mcp_tokens_secret_id == null ? [] : [var.mcp_tokens_secret_id]
        content {
          name = "THOTH_MCP_TOKENS"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      # /startup holds traffic until the model is loaded and the first index refresh has
      # ended, so the first request is answered from an index. Startup allows 2 minutes,
      # liveness (/health) restarts a wedged process.
      startup_probe {
        http_get {
          path = "/startup"
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
    # The image is rolled out by the deploy workflow (gcloud, by digest) and traffic is moved
    # by rollbacks (docs/deployment.md); Terraform owns everything else.
    ignore_changes = [
      template[0].containers[0].image,
      traffic,
      client,
      client_version,
    ]
  }
}

# Never allUsers by default: callers are listed in mcp_invoker_members. allUsers is accepted
# only with the app's bearer-token check switched on.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.mcp.name
  role     = "roles/run.invoker"
  member   = each.key

  lifecycle {
    precondition {
      condition     = !contains(["allUsers", "allAuthenticatedUsers"], each.key) || var.mcp_tokens_secret_id != null
      error_message = "A public MCP server needs bearer tokens: set mcp_tokens_secret_id."
    }
  }
}

# The deploy workflow checks /health after each rollout.
resource "google_cloud_run_v2_service_iam_member" "deployer" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.mcp.name
  role     = "roles/run.invoker"
  member   = var.deployer_member
}
