environment = "prod"
vpc_cidr    = "10.30.0.0/16"
# The serving certificate's domain: the env's ISSUED ACM certificate for it is the HTTPS listener's. A placeholder
# under example.com: replace it with your own (or pass certificate_arn). `mlops infra --local` uses its own.
serving_domain = "serving.example.com"
# GuardDuty and Security Hub are billed (terraform/modules/audit/README.md, Cost): on in prod, in its own account.
enable_guardduty    = true
enable_security_hub = true
