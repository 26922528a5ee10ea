output "alert_policy_names" {
  value = concat(
    [for p in google_monitoring_alert_policy.latency_p95 : p.name],
    [for p in google_monitoring_alert_policy.error_rate : p.name],
    [for p in google_monitoring_alert_policy.instances_near_max : p.name],
    [for p in google_monitoring_alert_policy.cold_starts : p.name],
  )
}
