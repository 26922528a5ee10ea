output "uri" {
  value = google_cloud_run_v2_service.mcp.uri
}

output "max_instances" {
  value = google_cloud_run_v2_service.mcp.template[0].scaling[0].max_instance_count
}
