// Run one make target, with optional make variables. Every pipeline step of this library ends here, so a stage
// is exactly what `make TARGET` does on a laptop.
def call(String target, Map variables = [:]) {
    String assignments = variables.collect { key, value -> "${key}='${value}'" }.join(' ')
    sh "make ${target} ${assignments}".trim()
}
