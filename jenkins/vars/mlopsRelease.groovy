// One env's release, in a stage that holds its lock: apply the Terraform plan this build saved and stashed for
// the env (never a fresh plan: a plan gone stale since fails here), which also writes the env's deploy targets;
// with `pushImage`, push this commit's serving image to the env's registry (which that apply creates; model projects
// serve on the platform's image and pass false) and publish the EC2 serving package the plan's user data names;
// then deploy what the env's release manifests on main say.
def call(String environment, boolean pushImage = true) {
    unstash('terraform-plans')
    mlopsAws(environment, 'terraform-apply') { mlopsMake('apply', [ENV: environment]) }
    if (pushImage) {
        mlopsAws(environment, 'deploy') {
            mlopsMake('image', [IMAGE_TAG: env.GIT_COMMIT])
            mlopsMake('package', [ENV: environment, IMAGE_TAG: env.GIT_COMMIT])
        }
    }
    mlopsDeploy(environment)
}
