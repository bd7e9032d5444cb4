// Run `body` with short-lived credentials of one env's role: the agent's own identity (instance profile or IRSA,
// never a stored key) assumes mlops-<environment>-<purpose>, which Terraform creates trusting only the Jenkins role.
// Purposes: terraform-plan and terraform-apply (terraform/bootstrap), deploy and retraining (the env's own roles).
// The env's account comes from MLOPS_ACCOUNT_<ENV>, set on every agent by jenkins/casc/jenkins.yaml.
def call(String environment, String purpose, Closure body) {
    String accountVariable = "MLOPS_ACCOUNT_${environment.toUpperCase()}"
    String account = env.getProperty(accountVariable)
    if (!account) {
        error("${accountVariable} is not set: jenkins/casc/jenkins.yaml sets it from the controller's environment")
    }
    withAWS(
        role: "mlops-${environment}-${purpose}",
        roleAccount: account,
        region: env.AWS_REGION,
        duration: 3600,
        roleSessionName: "jenkins-${environment}-${purpose}-${env.BUILD_NUMBER}",
        useNode: true // the agent's own identity is the source, not the controller's
    ) {
        body()
    }
}
