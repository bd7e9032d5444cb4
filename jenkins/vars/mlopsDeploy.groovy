// Deploy to one env what its release manifest on main says (deploy/<model>/<env>.yaml: model version, image
// digest), then its smoke test. `make deploy` re-checks the manifest (schema, lineage, passed gate), shifts ALB
// traffic step by step, rolls back by itself on an alarm, then publishes the live release and moves @<env>.
// (IMAGE_TAG only names the build in a model project's own deploy target.)
def call(String environment) {
    mlopsMake('deploy', [ENV: environment, IMAGE_TAG: env.GIT_COMMIT])
    mlopsMake('smoke', [ENV: environment])
}
