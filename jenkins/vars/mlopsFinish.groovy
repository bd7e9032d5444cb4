// What every stage that held an agent does last (its `post { always }`): publish the JUnit reports, archive
// reports/ (plans, scans, deploy records), stop a local stack the build started, and wipe the workspace.
def call() {
    junit(allowEmptyResults: true, testResults: 'reports/*.xml')
    archiveArtifacts(allowEmptyArchive: true, artifacts: 'reports/**')
    mlopsMake('stack-down')
    cleanWs()
}
