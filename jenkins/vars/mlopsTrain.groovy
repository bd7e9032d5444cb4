// Train, register and gate (make TARGET) under the env's retraining role; a pass proposes a release branch for
// review, pushed with the git-release credential. The gate's rejection (exit 3) is not a broken build: the build
// turns UNSTABLE with the reason, nothing is proposed, and the later stages deploy what main already says.
def call(String environment, String target, Map variables = [:]) {
    int status = 0
    withCredentials([gitUsernamePassword(credentialsId: 'git-release')]) {
        mlopsAws(environment, 'retraining') { status = mlopsMake(target, variables, [0, 3]) }
    }
    if (status == 3) {
        unstable('the gate rejected the new model version (reports/ says why): nothing was proposed')
    }
}
