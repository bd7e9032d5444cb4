// Canary deploy of this build's image to one env, then its smoke test. The deploy command shifts ALB traffic
// step by step, watches the env's CloudWatch alarms and rolls back by itself; it writes the deploy record.
def call(String environment) {
    mlopsMake('deploy', [ENV: environment, IMAGE_TAG: env.GIT_COMMIT])
    mlopsMake('smoke', [ENV: environment])
}
