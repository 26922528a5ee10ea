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
  type = string
}

variable "bucket_name" {
  type = string
}

variable "host" {
  description = "The service's deterministic run.app hostname (allowed Host for /mcp)."
  type        = string
}

variable "extra_allowed_hosts" {
  type    = list(string)
  default = []
}

variable "mcp_tokens_secret_id" {
  type    = string
  default = null
}

variable "embedding_model" {
  type = string
}

variable "index_poll_seconds" {
  type = number
}

variable "log_level" {
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
