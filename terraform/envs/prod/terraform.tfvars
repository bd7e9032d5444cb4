environment = "prod"
vpc_cidr    = "10.30.0.0/16"
