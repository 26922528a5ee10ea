output "uri" {
  value = google_cloud_run_v2_service.worker.uri
}

output "max_instances" {
  value = google_cloud_run_v2_service.worker.template[0].scaling[0].max_instance_count
}

output "queue_id" {
  value = google_cloud_tasks_queue.ingest.id
}

output "tasks_service_account_email" {
  value = google_service_account.tasks.email
}

output "scheduler_service_account_email" {
  value = google_service_account.scheduler.email
}

output "queue_name" {
  value = google_cloud_tasks_queue.ingest.name
}

output "tasks_service_account_name" {
  value = google_service_account.tasks.name
}
