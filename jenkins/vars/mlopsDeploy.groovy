// Deploy to one env what its release manifest on main says (deploy/<model>/<env>.yaml: model version, image
// digest), under the env's deploy role, then its smoke test. `make deploy` re-checks the manifest (schema, lineage,
// passed gate), waits for the new color's targets to be healthy, shifts ALB traffic step by step, rolls back by
// itself on an alarm, then publishes the live release and moves @<env>; a manifest already live is a no-op.
def call(String environment) {
    mlopsAws(environment, 'deploy') {
        mlopsMake('deploy', [ENV: environment])
        mlopsMake('smoke', [ENV: environment])
    }
}
