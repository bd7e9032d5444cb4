// Train, register and gate the model (make train-register); a pass proposes a release of the new version to
// releaseEnv: a branch with deploy/<model>/<releaseEnv>.yaml pushed with the git-release credential, for review.
def call(String releaseEnv) {
    withCredentials([gitUsernamePassword(credentialsId: 'git-release')]) {
        mlopsMake('train-register', [RELEASE_ENV: releaseEnv])
    }
}
