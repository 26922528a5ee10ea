output "bucket_name" {
  value = google_storage_bucket.thoth.name
}

output "mcp_service_account_email" {
  value = google_service_account.mcp.email
}

output "worker_service_account_email" {
  value = google_service_account.worker.email
}

output "secret_names" {
  description = "Secret id => secret id, available once the secret is managed (orders users after the import)."
  value       = { for id, secret in google_secret_manager_secret.secret : id => secret.secret_id }
}

output "enabled_apis" {
  value = [for api in google_project_service.api : api.service]
}
