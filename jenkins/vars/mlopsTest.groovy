// Run one test suite (unit, integration or e2e) with a JUnit report under reports/, published by `post`.
def call(String suite) {
    mlopsMake("test-${suite}", [PYTEST_ARGS: "--junitxml=reports/${suite}.xml"])
}
