variable "project_id" {
  type = string
}

variable "services" {
  description = "Cloud Run service name => its max instances and whether the latency alert applies."
  type = map(object({
    max_instances = number
    latency_alert = bool
  }))
}

variable "notification_emails" {
  type    = list(string)
  default = []
}
