// Terraform plan for each env, in parallel, each under its env's read-only plan role. The saved plans
// (reports/plans/<env>.tfplan) are stashed for the deploy stages, which apply exactly them, and archived with
// their text (reports/plans/<env>.txt). IMAGE_TAG is the commit: the EC2 user data the plan holds names the serving
// package the deploy stage publishes under that same commit (mlopsRelease).
def call(List<String> environments) {
    Map branches = environments.collectEntries { String environment ->
        [(environment): {
            mlopsAws(environment, 'terraform-plan') { mlopsMake('plan', [ENV: environment, IMAGE_TAG: env.GIT_COMMIT]) }
        }]
    }
    parallel branches
    stash(name: 'terraform-plans', includes: 'reports/plans/*')
    archiveArtifacts(artifacts: 'reports/plans/*')
}
