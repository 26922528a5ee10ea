output "uri" {
  value = google_cloud_run_v2_service.receiver.uri
}

output "max_instances" {
  value = google_cloud_run_v2_service.receiver.template[0].scaling[0].max_instance_count
}

output "service_account_email" {
  value = google_service_account.receiver.email
}
