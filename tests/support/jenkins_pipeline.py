"""The Jenkinsfile and its shared library (jenkins/vars) read as a pipeline, without a Jenkins controller (none can
run here; see jenkins/README.md): which stages a build runs for a branch and a change set, and what each stage does,
as `make` calls (target and variables) and manual input gates.

It reads the declarative subset this repository uses: `stage`, `when` (`branch`, `changeset`, `allOf`, `anyOf`,
`not`), `environment`, `steps` with library steps and `input`, `post`; and in the library steps, `def call(...)`,
calls to other steps, closures over a list parameter (`each`, `collect`, `collectEntries`), and the one `sh` step.
Anything else raises `Unsupported`, so a new construct in the pipeline fails the tests loudly instead of being
silently skipped."""

from __future__ import annotations

import fnmatch
import itertools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.paths import REPO_ROOT

JENKINSFILE = REPO_ROOT / "Jenkinsfile"
LIBRARY_DIR = REPO_ROOT / "jenkins" / "vars"

_TOKEN = re.compile(
    r"""(?P<nl>\n)|(?P<ws>[ \t\r]+)|(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<str>'(?:[^'\\]|\\.)*')|(?P<gstr>"(?:[^"\\]|\\.)*")|(?P<arrow>->)
    |(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)|(?P<num>\d+(?:\.\d+)?)|(?P<op>.)""",
    re.X | re.S,
)
_CLOSURE_METHODS = ("each", "collect", "collectEntries")


class Unsupported(Exception):
    """A Groovy construct this reader does not model."""


# ---- tokens and values -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str
    value: str


def tokenize(text: str) -> list[Token]:
    return [Token(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup not in ("ws", "comment")]


@dataclass(frozen=True)
class Ref:
    name: str  # a variable, a parameter, or env.NAME


@dataclass(frozen=True)
class GString:
    template: str  # a double-quoted string: ${...} is interpolated


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()


def _matching(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at `start`."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening, closing, depth = tokens[start].value, pairs[tokens[start].value], 0
    for i in range(start, len(tokens)):
        if tokens[i].kind == "op" and tokens[i].value == opening:
            depth += 1
        elif tokens[i].kind == "op" and tokens[i].value == closing:
            depth -= 1
            if depth == 0:
                return i
    raise Unsupported(f"unbalanced {opening}")


def _split_top(tokens: list[Token], separator: str = ",") -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "nl":
            continue
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            depth -= 1
        if depth == 0 and token.kind == "op" and token.value == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def parse_value(tokens: list[Token]) -> Any:
    tokens = [t for t in tokens if t.kind != "nl"]
    if not tokens:
        raise Unsupported("an empty value")
    first = tokens[0]
    if len(tokens) == 1 and first.kind == "str":
        return first.value[1:-1].replace("\\'", "'")
    if len(tokens) == 1 and first.kind == "gstr":
        return GString(first.value[1:-1])
    if len(tokens) == 1 and first.kind == "num":
        return float(first.value) if "." in first.value else int(first.value)
    if len(tokens) == 1 and first.kind == "name":
        return {"true": True, "false": False}.get(first.value, Ref(first.value))
    if first.kind == "name" and tokens[1].value == "(" and _matching(tokens, 1) == len(tokens) - 1:
        args, kwargs = parse_arguments(tokens[2:-1])
        return Call(first.value, tuple(args), tuple(kwargs.items()))
    if first.value == "[" and _matching(tokens, 0) == len(tokens) - 1:
        inner = tokens[1:-1]
        if [t.value for t in inner] == [":"]:
            return {}
        items = _split_top(inner)
        if items and _is_entry(items[0]):
            entries = {}
            for item in items:
                colon = _entry_colon(item)
                key_tokens = item[:colon]
                key = parse_value(key_tokens[1:-1]) if key_tokens[0].value == "(" else key_tokens[0].value.strip("'\"")
                entries[key] = parse_value(item[colon + 1 :])
            return entries
        return [parse_value(item) for item in items]
    raise Unsupported(f"the value {' '.join(t.value for t in tokens)}")


def _entry_colon(item: list[Token]) -> int:
    depth = 0
    for i, token in enumerate(item):
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            depth -= 1
        elif depth == 0 and token.kind == "op" and token.value == ":":
            return i
    return -1


def _is_entry(item: list[Token]) -> bool:
    return _entry_colon(item) > 0


def parse_arguments(tokens: list[Token]) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = [], {}
    for item in _split_top(tokens):
        if len(item) > 2 and item[0].kind == "name" and item[1].value == ":":
            kwargs[item[0].value] = parse_value(item[2:])
        else:
            args.append(parse_value(item))
    return args, kwargs


def evaluate(value: Any, bindings: dict[str, Any], env: dict[str, str]) -> Any:
    """A parsed value with its variables (parameters, closure variables, env.NAME) filled in."""
    if isinstance(value, Ref):
        return _lookup(value.name, bindings, env)
    if isinstance(value, GString):
        return interpolate(value.template, lambda name: _lookup(name, bindings, env))
    if isinstance(value, list):
        return [evaluate(v, bindings, env) for v in value]
    if isinstance(value, dict):
        return {evaluate(k, bindings, env) if isinstance(k, Ref) else k: evaluate(v, bindings, env)
                for k, v in value.items()}  # fmt: skip
    return value


def interpolate(template: str, lookup) -> str:
    return re.sub(r"\$\{\s*([\w.]+)\s*\}|\$(\w+)", lambda m: str(lookup(m.group(1) or m.group(2))), template)


def _lookup(name: str, bindings: dict[str, Any], env: dict[str, str]) -> Any:
    if name in bindings:
        return bindings[name]
    if name.startswith("env."):
        if name[4:] not in env:
            raise Unsupported(f"the build has no env.{name[4:]} (pass it in env=)")
        return env[name[4:]]
    raise Unsupported(f"unknown variable {name}")


# ---- statements --------------------------------------------------------------------------------------------------


@dataclass
class Node:
    head: list[Token]
    body: list[Node] | None = None

    @property
    def text(self) -> str:
        return " ".join(t.value for t in self.head)

    def call(self) -> Call:
        """The statement as a call: `name(args)`, `name arg, key: value` (command syntax) or `name { ... }`."""
        head = self.head
        if not head or head[0].kind != "name":
            raise Unsupported(f"the statement {self.text!r}")
        if len(head) == 1:
            return Call(head[0].value, ())
        if head[1].value == "(" and _matching(head, 1) == len(head) - 1:
            args, kwargs = parse_arguments(head[2:-1])
        else:
            args, kwargs = parse_arguments(head[1:])
        return Call(head[0].value, tuple(args), tuple(kwargs.items()))

    def assignment(self) -> tuple[str, Any] | None:
        """`NAME = value` (or `Type NAME = value`), else None."""
        for i, token in enumerate(self.head[:3]):
            if token.kind == "op" and token.value == "=" and i >= 1 and self.head[i - 1].kind == "name":
                return self.head[i - 1].value, parse_value(self.head[i + 1 :])
        return None

    def child(self, name: str) -> Node | None:
        return next((n for n in self.body or [] if n.head and n.head[0].value == name and n.body is not None), None)


def parse_statements(tokens: list[Token], start: int = 0) -> tuple[list[Node], int]:
    """Statements up to the `}` closing the current block: a `{` outside brackets opens a statement's body."""
    nodes: list[Node] = []
    head: list[Token] = []
    depth, i = 0, start
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "op" and depth == 0 and token.value == "}":
            if head:
                nodes.append(Node(head))
            return nodes, i + 1
        if token.kind == "op" and depth == 0 and token.value == "{":
            body, i = parse_statements(tokens, i + 1)
            nodes.append(Node(head, body))
            head = []
            continue
        if token.kind == "op" and token.value in "([":
            depth += 1
        elif token.kind == "op" and token.value in ")]":
            depth -= 1
        if depth == 0 and (token.kind == "nl" or (token.kind == "op" and token.value == ";")):
            if head:
                nodes.append(Node(head))
            head = []
        elif token.kind != "nl":
            head.append(token)
        i += 1
    if head:
        nodes.append(Node(head))
    return nodes, i


# ---- what a build does ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Make:
    target: str
    variables: tuple[tuple[str, str], ...]  # make command-line variables, in the order the step passes them
    argv: tuple[str, ...]  # the command the library's `sh` step runs for it

    @property
    def vars(self) -> dict[str, str]:
        return dict(self.variables)


@dataclass(frozen=True)
class Input:
    message: str
    submitter: str | None


@dataclass(frozen=True)
class OtherStep:
    name: str  # a step that is neither a library step nor `input` (junit, archiveArtifacts, mail, ...)


Action = Make | Input | OtherStep


@dataclass
class LibraryStep:
    """One jenkins/vars/NAME.groovy: `def call(params) { body }`."""

    name: str
    params: list[str]
    body: list[Token]  # the tokens of the body, newlines kept

    @classmethod
    def read(cls, path: Path) -> LibraryStep:
        tokens = tokenize(path.read_text())
        values = [t.value for t in tokens]
        for i in range(len(tokens) - 2):
            if values[i] == "def" and values[i + 1] == "call" and values[i + 2] == "(":
                close = _matching(tokens, i + 2)
                params = []
                for part in _split_top(tokens[i + 3 : close]):
                    names = [t.value for t in itertools.takewhile(lambda t: t.value != "=", part) if t.kind == "name"]
                    params.append(names[-1])
                open_body = next(j for j in range(close, len(tokens)) if values[j] == "{")
                body = tokens[open_body + 1 : _matching(tokens, open_body)]
                branching = {"if", "else", "switch", "for", "while", "try", "catch", "return"}
                if found := branching & {t.value for t in body if t.kind == "name"}:
                    # every call in a step's body is taken to run; control flow would make that untrue
                    raise Unsupported(f"{path.name}: {sorted(found)} in a library step")
                return cls(path.stem, params, body)
        raise Unsupported(f"{path} has no `def call(...)`")

    def shell_commands(self) -> list[int]:
        """Positions of the `sh` steps in the body."""
        return [i for i, t in enumerate(self.body) if t.kind == "name" and t.value == "sh"]

    def calls(self, names: set[str]) -> list[tuple[int, Call]]:
        """The calls of the steps `names` in the body, with their position."""
        found = []
        for i, token in enumerate(self.body):
            if (
                token.kind == "name"
                and token.value in names
                and i + 1 < len(self.body)
                and self.body[i + 1].value == "("
            ):
                close = _matching(self.body, i + 1)
                args, kwargs = parse_arguments(self.body[i + 2 : close])
                found.append((i, Call(token.value, tuple(args), tuple(kwargs.items()))))
        return found

    def closures(self) -> list[tuple[str, list[str], int, int]]:
        """`LIST.each|collect|collectEntries { [Type] a[, b] -> ... }`: (LIST, [a, b], body start, body end)."""
        found = []
        for i, token in enumerate(self.body[:-1]):
            receiver, _, method = token.value.rpartition(".")
            if token.kind == "name" and method in _CLOSURE_METHODS and self.body[i + 1].value == "{":
                end = _matching(self.body, i + 1)
                arrow = next((j for j in range(i + 2, end) if self.body[j].kind == "arrow"), None)
                if arrow is None:
                    raise Unsupported(f"{self.name}: a closure without parameters on {receiver}")
                names = [part[-1].value for part in _split_top(self.body[i + 2 : arrow])]  # `Type name` or `name`
                found.append((receiver, names, arrow + 1, end))
        return found


class Pipeline:
    def __init__(self, jenkinsfile: Path = JENKINSFILE, library_dir: Path = LIBRARY_DIR):
        self.jenkinsfile, self.library_dir = jenkinsfile, library_dir
        self.steps = {p.stem: LibraryStep.read(p) for p in sorted(library_dir.glob("*.groovy"))}
        nodes, _ = parse_statements(tokenize(jenkinsfile.read_text()))
        (pipeline,) = [n for n in nodes if n.head and n.head[0].value == "pipeline"]
        self.libraries = [n.call().args[0] for n in nodes if n.body is None and n.head and n.head[0].value == "library"]
        stages = pipeline.child("stages")
        if stages is None:
            raise Unsupported("the pipeline has no stages")
        self.stages = [Stage.read(n) for n in stages.body or []]
        post = pipeline.child("post")
        self.post = {n.head[0].value: n.body or [] for n in (post.body if post else [])}
        self.environment = _assignments(pipeline.child("environment"))

    @property
    def make_step(self) -> LibraryStep:
        """The one library step that runs a shell command: every other step ends in it."""
        (step,) = [s for s in self.steps.values() if s.shell_commands()]
        return step

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def build(self, branch: str, changes: list[str], env: dict[str, str] | None = None) -> list[tuple[str, Action]]:
        """(stage name, action) for every action a build of `branch` with `changes` runs, in order."""
        merged = self._env(env)
        return [(s.name, a) for s in self.stages if s.runs(branch, changes) for a in self.actions(s.steps, merged)]

    def stage_actions(self, name: str, env: dict[str, str] | None = None) -> list[Action]:
        """What stage `name` does when it runs, whatever its `when` says."""
        return self.actions(self.stage(name).steps, self._env(env))

    def post_actions(self, condition: str, env: dict[str, str] | None = None) -> list[Action]:
        return self.actions(self.post.get(condition, []), self._env(env))

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        pipeline_env = {k: v for k, v in self.environment.items() if isinstance(v, str)}
        return {**pipeline_env, **(env or {})}

    def actions(self, nodes: list[Node], env: dict[str, str]) -> list[Action]:
        out: list[Action] = []
        for node in nodes:
            call = node.call()
            if call.name in self.steps:
                args = [evaluate(a, {}, env) for a in call.args]
                out += self.run_step(call.name, args, env)
            elif call.name == "input":
                kwargs = {k: evaluate(v, {}, env) for k, v in call.kwargs}
                out.append(Input(kwargs.get("message", ""), kwargs.get("submitter")))
            elif node.body is not None:  # timeout(...) { }, withCredentials(...) { }, script { }
                out += self.actions(node.body, env)
            else:
                out.append(OtherStep(call.name))
        return out

    def run_step(self, name: str, args: list[Any], env: dict[str, str]) -> list[Action]:
        step = self.steps[name]
        params = dict(zip(step.params, args, strict=False))
        if step is self.make_step:
            target, variables = args[0], {k: str(v) for k, v in (args[1] if len(args) > 1 else {}).items()}
            return [Make(target, tuple(variables.items()), tuple(self.make_command(target, variables)))]
        out: list[Action] = []
        closures = step.closures()
        for position, call in step.calls(set(self.steps)):
            loops = [c for c in closures if c[2] <= position < c[3]]
            for combination in itertools.product(*(_loop_values(c, params) for c in loops)):
                bindings = {**params}
                for values in combination:
                    bindings.update(values)
                out += self.run_step(call.name, [evaluate(a, bindings, env) for a in call.args], env)
        return out

    def make_command(self, target: str, variables: dict[str, str]) -> list[str]:
        """The argv of the make step's `sh` for these arguments: its command string interpolated as Groovy would
        (locals built with `PARAM.collect { k, v -> "..." }.join(SEP)` included), then split as the shell splits."""
        step = self.make_step
        body = step.body
        (position,) = step.shell_commands()
        i = position + 1 + (body[position + 1].value == "(")
        if body[i].kind != "gstr" and body[i].kind != "str":
            raise Unsupported(f"{step.name}: sh of something other than a string literal")
        bindings: dict[str, Any] = dict(zip(step.params, (target, variables), strict=False))
        for receiver, names, start, end in step.closures():
            owner = receiver.split(".")[0]
            template = [t for t in body[start:end] if t.kind != "nl"]
            if owner not in bindings or len(template) != 1 or template[0].kind != "gstr":
                raise Unsupported(f"{step.name}: the closure on {receiver}")
            assigned = _assigned_name(body, start)
            join = _join_separator(body, end)
            items = bindings[owner].items() if isinstance(bindings[owner], dict) else enumerate(bindings[owner])
            rendered = [interpolate(template[0].value[1:-1], dict(zip(names, item, strict=True)).__getitem__)
                        for item in items]  # fmt: skip
            bindings[assigned] = join.join(rendered)
        command = interpolate(body[i].value[1:-1], bindings.__getitem__)
        if [t.value for t in body[i + 1 : i + 4]] == [".", "trim", "("]:
            command = command.strip()
        return shlex.split(command)

    def credentials_used(self) -> set[str]:
        """Every credential ID the Jenkinsfile and the library steps ask Jenkins for."""
        used = set()
        for tokens in [tokenize(self.jenkinsfile.read_text())] + [s.body for s in self.steps.values()]:
            values = [t for t in tokens if t.kind != "nl"]
            for i, token in enumerate(values[:-2]):
                if token.value == "credentials" and values[i + 1].value == "(" and values[i + 2].kind == "str":
                    used.add(values[i + 2].value[1:-1])
                if token.value == "credentialsId" and values[i + 1].value == ":" and values[i + 2].kind == "str":
                    used.add(values[i + 2].value[1:-1])
        return used


def _assigned_name(body: list[Token], closure_start: int) -> str:
    """The local a closure's result is assigned to: the name before the `=` on the closure's line."""
    i = closure_start
    while i > 0 and body[i].kind != "nl":
        i -= 1
    line = [t for t in body[i:closure_start] if t.kind != "nl"]
    equals = next(j for j, t in enumerate(line) if t.value == "=")
    return line[equals - 1].value


def _join_separator(body: list[Token], closure_end: int) -> str:
    rest = [t.value for t in body[closure_end + 1 : closure_end + 6]]
    if rest[:3] != [".", "join", "("] or rest[4] != ")":
        raise Unsupported("a collect closure not followed by .join(SEPARATOR)")
    return rest[3][1:-1]


def _loop_values(closure: tuple[str, list[str], int, int], params: dict[str, Any]) -> list[dict[str, Any]]:
    receiver, names, _, _ = closure
    if receiver not in params or not isinstance(params[receiver], list) or len(names) != 1:
        raise Unsupported(f"a closure over {receiver}, which is not a list parameter")
    return [{names[0]: value} for value in params[receiver]]


def _assignments(node: Node | None) -> dict[str, Any]:
    out = {}
    for child in (node.body if node else None) or []:
        found = child.assignment()
        if found is None:
            raise Unsupported(f"the environment entry {child.text!r}")
        out[found[0]] = found[1]
    return out


@dataclass
class Stage:
    name: str
    when: list[Node] | None
    environment: dict[str, Any] = field(default_factory=dict)
    steps: list[Node] = field(default_factory=list)

    @classmethod
    def read(cls, node: Node) -> Stage:
        call = node.call()
        if call.name != "stage" or node.body is None:
            raise Unsupported(f"{node.text!r} in stages")
        when = node.child("when")
        steps = node.child("steps")
        if steps is None:
            raise Unsupported(f"stage {call.args[0]!r} has no steps (parallel or nested stages?)")
        return cls(call.args[0], when.body if when else None, _assignments(node.child("environment")), steps.body or [])

    def runs(self, branch: str, changes: list[str]) -> bool:
        """Whether a build of `branch` whose changes are `changes` runs this stage (no `when`: always)."""
        return self.when is None or all(_condition(c, branch, changes) for c in self.when)


def _condition(node: Node, branch: str, changes: list[str]) -> bool:
    call = node.call()
    if call.name == "branch":
        return fnmatch.fnmatchcase(branch, call.args[0])
    if call.name == "changeset":
        return any(ant_match(call.args[0], path) for path in changes)
    if call.name in ("allOf", "anyOf", "not") and node.body is not None:
        results = [_condition(c, branch, changes) for c in node.body]
        return {"allOf": all, "anyOf": any}[call.name](results) if call.name != "not" else not results[0]
    raise Unsupported(f"the when condition {node.text!r}")


def ant_match(pattern: str, path: str) -> bool:
    """Jenkins `changeset` patterns are Ant globs: `**` any number of directories, `*` within one."""
    regex = ""
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
            regex += "" if last else "/"
    return re.fullmatch(regex, path, flags=re.IGNORECASE) is not None
