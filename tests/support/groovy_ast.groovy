import org.codehaus.groovy.ast.*
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.*
import org.codehaus.groovy.control.*
import groovy.json.JsonOutput

def expr(Expression e) {
    switch (e) {
        case ConstantExpression: return [k: 'const', v: e.value]
        case GStringExpression: return [k: 'gstring', strings: e.strings*.value, values: e.values.collect { expr(it) }]
        case VariableExpression: return [k: 'var', name: e.name]
        case PropertyExpression: return [k: 'prop', obj: expr(e.objectExpression), name: e.propertyAsString, safe: e.safe]
        case MethodCallExpression: return [k: 'call', obj: e.implicitThis ? null : expr(e.objectExpression), name: e.methodAsString, args: args(e.arguments), line: e.lineNumber]
        case StaticMethodCallExpression: return [k: 'call', obj: null, name: e.method, args: args(e.arguments), line: e.lineNumber]
        case ClosureExpression: return [k: 'closure', params: (e.parameters ?: [])*.name, body: stmt(e.code)]
        case MapExpression: return [k: 'map', entries: e.mapEntryExpressions.collect { [expr(it.keyExpression), expr(it.valueExpression)] }]
        case ListExpression: return [k: 'list', items: e.expressions.collect { expr(it) }]
        case DeclarationExpression: return [k: 'assign', target: expr(e.leftExpression), value: expr(e.rightExpression), declare: true]
        case BinaryExpression:
            if (e.operation.text == '=') return [k: 'assign', target: expr(e.leftExpression), value: expr(e.rightExpression)]
            return [k: 'binary', op: e.operation.text, left: expr(e.leftExpression), right: expr(e.rightExpression)]
        case NotExpression: return [k: 'not', expr: expr(e.expression)]
        case BooleanExpression: return expr(e.expression)
        case ElvisOperatorExpression: return [k: 'elvis', left: expr(e.trueExpression), right: expr(e.falseExpression)]
        case TernaryExpression: return [k: 'ternary', cond: expr(e.booleanExpression), then: expr(e.trueExpression), else: expr(e.falseExpression)]
        case ArgumentListExpression: return [k: 'list', items: e.expressions.collect { expr(it) }]
        default: throw new IllegalArgumentException("unsupported expression ${e.class.simpleName} at line ${e.lineNumber}: ${e.text}")
    }
}
def args(Expression a) {
    if (a instanceof TupleExpression) {
        def out = []
        a.expressions.each { x ->
            if (x instanceof NamedArgumentListExpression) out << [k: 'named', entries: x.mapEntryExpressions.collect { [it.keyExpression.text, expr(it.valueExpression)] }]
            else out << expr(x)
        }
        return out
    }
    return [expr(a)]
}
def stmt(Statement s) {
    switch (s) {
        case BlockStatement: return s.statements.collect { stmt(it) }.flatten()
        case ExpressionStatement: return [[k: 'expr', expr: expr(s.expression)]]
        case IfStatement: return [[k: 'if', cond: expr(s.booleanExpression), then: stmt(s.ifBlock), else: stmt(s.elseBlock)]]
        case ReturnStatement: return [[k: 'return', expr: expr(s.expression)]]
        case EmptyStatement: return []
        default: throw new IllegalArgumentException("unsupported statement ${s.class.simpleName} at line ${s.lineNumber}")
    }
}
def result = [:]
args.each { path ->
    def unit = new CompilationUnit()
    unit.addSource(new File(path))
    unit.compile(Phases.CONVERSION)
    def module = unit.AST.modules[0]
    def methods = [:]
    module.classes.each { cls -> cls.methods.findAll { it.lineNumber > 0 }.each { m -> methods[m.name] = [params: m.parameters.collect { [name: it.name, default: it.hasInitialExpression() ? expr(it.initialExpression) : null] }, body: stmt(m.code)] } }
    result[path] = [statements: stmt(module.statementBlock), methods: methods]
}
println JsonOutput.toJson(result)
