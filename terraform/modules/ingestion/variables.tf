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
  type = string
}

variable "service_account_email" {
  description = "The worker's runtime service account (from the shared module)."
  type        = string
}

variable "bucket_name" {
  type = string
}

variable "worker_url" {
  description = "The worker's deterministic run.app URL: task URLs, OIDC audience, scheduler target."
  type        = string
}

variable "queue_name" {
  type = string
}

variable "gitlab_token_secret" {
  type = string
}

variable "gitlab_url_secret" {
  type = string
}

variable "embedding_model" {
  type = string
}

variable "batch_files" {
  type = number
}

variable "index_keep_versions" {
  type = number
}

variable "log_level" {
  type = string
}

variable "sync_sources" {
  type = list(string)
}

variable "sync_schedule" {
  type = string
}

variable "sync_time_zone" {
  type = string
}

variable "invoker_members" {
  type    = list(string)
  default = []
}

variable "deployer_member" {
  type = string
}

variable "deletion_protection" {
  type = bool
}

variable "labels" {
  type = map(string)
}
