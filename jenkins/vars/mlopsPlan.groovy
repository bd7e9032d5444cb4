// Terraform plan for each env, in parallel, each under its env's read-only plan role. The saved plans
// (reports/plans/<env>.tfplan) are stashed for the deploy stages, which apply exactly them, and archived with
// their text (reports/plans/<env>.txt).
def call(List<String> environments) {
    Map branches = environments.collectEntries { String environment ->
        [(environment): { mlopsAws(environment, 'terraform-plan') { mlopsMake('plan', [ENV: environment]) } }]
    }
    parallel branches
    stash(name: 'terraform-plans', includes: 'reports/plans/*')
    archiveArtifacts(artifacts: 'reports/plans/*')
}
