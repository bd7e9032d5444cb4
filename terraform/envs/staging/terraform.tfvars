environment = "staging"
vpc_cidr    = "10.20.0.0/16"
# The serving certificate's domain: the env's ISSUED ACM certificate for it is the HTTPS listener's. A placeholder
# under example.com: replace it with your own (or pass certificate_arn). `mlops infra --local` uses its own.
serving_domain = "serving.staging.example.com"
