variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "bucket_name" {
  type = string
}

variable "secret_ids" {
  description = "Secret Manager secret ids, created with their values by hand and adopted here (no values in code)."
  type        = list(string)
}

variable "job_retention_days" {
  type = number
}

variable "noncurrent_version_retention_days" {
  type = number
}

variable "mcp_tokens_secret_id" {
  description = "Optional existing secret with the MCP bearer tokens; the MCP service account may read it."
  type        = string
  default     = null
}

variable "labels" {
  type = map(string)
}
