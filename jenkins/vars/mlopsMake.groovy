// Run one make target, with optional make variables. Every pipeline step of this library ends here, so a stage
// is exactly what `make TARGET` does on a laptop. Exit codes in `allowedExitCodes` return to the caller (the gate's
// rejection, 3, is one); any other fails the build with the target's name.
int call(String target, Map variables = [:], List<Integer> allowedExitCodes = [0]) {
    String assignments = variables.collect { key, value -> "${key}='${value}'" }.join(' ')
    int status = sh(script: "make ${target} ${assignments}".trim(), returnStatus: true)
    if (!allowedExitCodes.contains(status)) {
        error("make ${target} failed with exit code ${status}")
    }
    return status
}
