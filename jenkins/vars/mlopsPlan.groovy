// Terraform plan for each env, in parallel; each plan's text lands in reports/ and is archived by `post`.
def call(List<String> environments) {
    Map branches = environments.collectEntries { String environment ->
        [(environment): { mlopsMake('plan', [ENV: environment]) }]
    }
    parallel branches
}
