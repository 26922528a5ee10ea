variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "service_name" {
  type = string
}

variable "image" {
  description = "The ingestion image; the receiver runs `python -m thoth.ingest.webhook` from it."
  type        = string
}

variable "queue_name" {
  type = string
}

variable "worker_url" {
  description = "The worker's run.app URL: push tasks go to its /tasks/push with it as audience."
  type        = string
}

variable "tasks_service_account_name" {
  description = "Resource name of the tasks identity (projects/.../serviceAccounts/...)."
  type        = string
}

variable "tasks_service_account_email" {
  type = string
}

variable "webhook_token_secret" {
  description = "Secret Manager secret id holding GitLab's webhook secret token."
  type        = string
}

variable "webhook_source" {
  type = string
}

variable "gitlab_project" {
  type = string
}

variable "gitlab_ref" {
  type = string
}

variable "log_level" {
  type = string
}

variable "deletion_protection" {
  type = bool
}

variable "labels" {
  type    = map(string)
  default = {}
}
