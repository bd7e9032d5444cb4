// The manual gate before an env. It runs in a stage without an agent (no executor is held while it waits) and
// with that stage's own timeout. Only the group in MLOPS_APPROVERS_<ENV> may approve: jenkins/casc/jenkins.yaml
// sets it, and its security realm (GitHub OAuth) is where that group comes from. The milestones abort an older
// build that reaches this gate, or passes it, after a newer one did.
def call(String environment) {
    String approversVariable = "MLOPS_APPROVERS_${environment.toUpperCase()}"
    String approvers = env.getProperty(approversVariable)
    if (!approvers) {
        error("${approversVariable} is not set: without it anyone who can build could approve ${environment}")
    }
    milestone(label: "before approving ${environment}")
    String approver = input(message: "Deploy this build to ${environment}?", ok: "Deploy to ${environment}",
        submitter: approvers, submitterParameter: 'approver')
    // who approved goes into the release's evidence (`make deploy` passes it as --approved-by); input gives no time,
    // so the evidence records when the deploy that follows the approval started
    env.MLOPS_RELEASE_APPROVED_BY = approver
    milestone(label: "approved ${environment}")
}
