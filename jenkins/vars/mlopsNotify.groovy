// Tell the owners how the build ended. The address comes from the MLOPS_NOTIFY_TO environment variable.
def call(String status) {
    mail(
        to: env.MLOPS_NOTIFY_TO,
        subject: "${status}: ${env.JOB_NAME} #${env.BUILD_NUMBER}",
        body: "${env.BUILD_URL}console"
    )
}
