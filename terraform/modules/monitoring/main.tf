# Alert policies for the deployment document's thresholds (DESIGN: "Alerts"): request p95
# > 2 s, error rate > 1 %, instances > max - 1, cold starts > 10/hour. What each one means
# and what to do: docs/deployment.md, "Alerts".

locals {
  latency_p95_threshold_ms = 2000
  error_rate_threshold     = 0.01
  cold_starts_per_hour     = 10

  latency_services = { for name, s in var.services : name => s if s.latency_alert }
  # PromQL over Cloud Monitoring: run.googleapis.com/request_count -> run_googleapis_com:request_count.
  selector = { for name, s in var.services : name => "monitored_resource=\"cloud_run_revision\",service_name=\"${name}\"" }
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.notification_emails)

  project      = var.project_id
  display_name = "Thoth alerts: ${each.key}"
  type         = "email"
  labels = {
    email_address = each.key
  }
}

locals {
  channels = [for channel in google_monitoring_notification_channel.email : channel.id]
}

resource "google_monitoring_alert_policy" "latency_p95" {
  for_each = local.latency_services

  project               = var.project_id
  display_name          = "Thoth ${each.key}: request p95 > 2 s"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "p95 request latency above ${local.latency_p95_threshold_ms} ms for 5 minutes"
    condition_prometheus_query_language {
      query               = "histogram_quantile(0.95, sum by (le) (rate(run_googleapis_com:request_latencies_bucket{${local.selector[each.key]}}[5m]))) > ${local.latency_p95_threshold_ms}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Searches are slow. See docs/deployment.md#alert-request-p95--2-s."
  }
}

resource "google_monitoring_alert_policy" "error_rate" {
  for_each = var.services

  project               = var.project_id
  display_name          = "Thoth ${each.key}: error rate > 1 %"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "5xx responses above ${local.error_rate_threshold * 100} % of requests for 5 minutes"
    condition_prometheus_query_language {
      query               = "sum(rate(run_googleapis_com:request_count{${local.selector[each.key]},response_code_class=\"5xx\"}[5m])) / sum(rate(run_googleapis_com:request_count{${local.selector[each.key]}}[5m])) > ${local.error_rate_threshold}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Requests fail. See docs/deployment.md#alert-error-rate--1-."
  }
}

resource "google_monitoring_alert_policy" "instances_near_max" {
  for_each = var.services

  project               = var.project_id
  display_name          = "Thoth ${each.key}: instances > max - 1"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "more than ${each.value.max_instances - 1} instances for 10 minutes"
    condition_prometheus_query_language {
      query               = "sum(max_over_time(run_googleapis_com:container_instance_count{${local.selector[each.key]}}[1m])) > ${each.value.max_instances - 1}"
      duration            = "600s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The service is about to run out of instances. See docs/deployment.md#alert-instances--max---1."
  }
}

resource "google_monitoring_alert_policy" "cold_starts" {
  for_each = var.services

  project               = var.project_id
  display_name          = "Thoth ${each.key}: cold starts > 10/hour"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "more than ${local.cold_starts_per_hour} instance starts in an hour"
    condition_prometheus_query_language {
      query               = "sum(increase(run_googleapis_com:container_startup_latencies_count{${local.selector[each.key]}}[1h])) > ${local.cold_starts_per_hour}"
      duration            = "0s"
      evaluation_interval = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Instances start too often. See docs/deployment.md#alert-cold-starts--10hour."
  }
}
