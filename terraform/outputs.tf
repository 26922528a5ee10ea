output "mcp_url" {
  description = "MCP server base URL (deterministic run.app URL; MCP endpoint is MCP_URL/mcp)."
  value       = "https://${local.mcp_host}"
}

output "mcp_service_uri" {
  description = "The URL Cloud Run reports for the MCP server (may be the older hash-style URL, whose Host /mcp does not accept)."
  value       = module.mcp.uri
}

output "worker_url" {
  description = "Ingestion worker base URL (THOTH_WORKER_URL)."
  value       = local.worker_url
}

output "bucket" {
  description = "The bucket that holds sources, jobs and index snapshots."
  value       = module.shared.bucket_name
}

output "queue" {
  description = "Full Cloud Tasks queue path."
  value       = module.ingestion.queue_id
}

output "webhook_url" {
  description = "The GitLab webhook's URL (register it on the project with the gitlab-webhook-token value); null without a receiver."
  value       = local.webhook_enabled ? "${module.webhook[0].uri}/webhooks/gitlab" : null
}

output "mcp_service_name" {
  value = local.mcp_service_name
}

output "worker_service_name" {
  value = local.worker_service_name
}

output "service_accounts" {
  description = "Runtime service accounts."
  value = {
    mcp       = module.shared.mcp_service_account_email
    worker    = module.shared.worker_service_account_email
    tasks     = module.ingestion.tasks_service_account_email
    scheduler = module.ingestion.scheduler_service_account_email
    webhook   = local.webhook_enabled ? module.webhook[0].service_account_email : null
  }
}
