"""A declarative Jenkinsfile and its shared library (jenkins/vars) run as a build runs them, without a controller
(none can run here; jenkins/README.md says what only a controller proves).

Parsing is Groovy's own: tests/support/groovy_ast.groovy compiles each file to the CONVERSION phase with the Groovy
that npm-groovy-lint ships (the parser CodeNarc uses) and prints the AST as JSON. This module walks that AST:
- the declarative directives: agent, options, environment, stages (nested), when, steps, post;
- the steps the library calls, each recorded as an event; `sh` goes to an Agent, which runs it (or, for a stage a
  test names, `make -n` of it), and `withAWS` asks the Agent for the role's credentials;
- Groovy in the library steps: calls with default parameters, closures, `each`/`collect`/`collectEntries`/`join`,
  if/else, GStrings, `env.NAME` and `env.getProperty(NAME)`.
A construct it does not know raises Unsupported, so a new one fails the tests instead of being skipped. A GString
that interpolates an env variable the build does not set raises MissingVariable: Jenkins would say "null" there.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops.core.paths import REPO_ROOT

JENKINSFILE = REPO_ROOT / "Jenkinsfile"
LIBRARY_DIR = REPO_ROOT / "jenkins" / "vars"
CASC = REPO_ROOT / "jenkins" / "casc" / "jenkins.yaml"
GROOVY_LIB = REPO_ROOT / "jenkins" / "lint" / "node_modules" / "npm-groovy-lint" / "lib" / "java" / "groovy" / "lib"
AST_SCRIPT = Path(__file__).with_name("groovy_ast.groovy")


class Unsupported(Exception):
    """A Groovy or declarative construct this runner does not model."""


class MissingVariable(Exception):
    """The build interpolates an env variable that nothing sets."""


class BuildFailed(Exception):
    """`error(...)`, or a step that failed: the build stops, as in Jenkins."""


# ---- parsing -------------------------------------------------------------------------------------------------------


def parse(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """Each file's AST (statements and methods), cached per file by content; the files not cached yet are parsed
    by Groovy in one JVM run (a JVM start costs seconds: parse many files in one call where you can)."""
    keys = {p: (str(p), hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths}
    missing = [key for key in keys.values() if key not in _ASTS]
    if missing:
        parsed = _parse_in_one_jvm([path for path, _ in missing])
        _ASTS.update({key: parsed[key[0]] for key in missing})
    return {p: _ASTS[key] for p, key in keys.items()}


_ASTS: dict[tuple[str, str], dict[str, Any]] = {}  # (path, sha256) -> AST


def _parse_in_one_jvm(paths: list[str]) -> dict[str, Any]:
    if not GROOVY_LIB.is_dir():
        raise Unsupported(f"no Groovy at {GROOVY_LIB}: `make lint-jenkins` installs npm-groovy-lint, which ships it")
    result = subprocess.run(
        ["java", "-cp", f"{GROOVY_LIB}/*", "groovy.ui.GroovyMain", str(AST_SCRIPT), *paths],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise Unsupported(f"Groovy could not parse {paths}: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


# ---- what a build does ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str  # stage, sh, assume, input, milestone, lock, stash, unstash, step, skip, agent
    stage: str
    detail: dict[str, Any] = field(default_factory=dict)


class Agent(Protocol):
    """Where `sh` runs: a workspace and the agent's own environment (its node's, before the build adds any)."""

    def checkout(self) -> Path: ...
    def sh(self, stage: str, script: str, env: dict[str, str], workspace: Path) -> int: ...
    def assume_role(self, role_arn: str, session: str, duration: int, env: dict[str, str]) -> dict[str, str]: ...


@dataclass
class Trigger:
    """What started the build: the branch job (main, or PR-N for a pull request) and the files it changed."""

    branch: str
    changes: list[str]
    change_target: str | None = None  # a pull request's target branch

    def jenkins_env(self, build_number: int, commit: str) -> dict[str, str]:
        """What a multibranch job sets for every build (jenkins.io: pipeline global variables)."""
        env = {
            "BRANCH_NAME": self.branch, "BUILD_NUMBER": str(build_number), "GIT_COMMIT": commit,
            "JOB_NAME": f"r5-mlops/{self.branch}", "BUILD_TAG": f"jenkins-r5-mlops-{self.branch}-{build_number}",
            "BUILD_URL": f"https://jenkins.example.com/job/r5-mlops/job/{self.branch}/{build_number}/",
            "JENKINS_URL": "https://jenkins.example.com/",
        }  # fmt: skip
        if self.change_target:
            env |= {"CHANGE_ID": self.branch.removeprefix("PR-"), "CHANGE_TARGET": self.change_target}
        return env


@dataclass
class Closure:
    params: list[str]
    body: list[dict[str, Any]]
    scope: dict[str, Any]


class Build:
    """One build of the pipeline: `run()` walks it and returns its events and result (SUCCESS, UNSTABLE, FAILURE,
    or WAITING when an approval nobody answers stops it, which is where a dry run ends)."""

    def __init__(self, trigger: Trigger, agent: Agent, node_env: dict[str, str], *, approve: Callable[[dict], bool]
                 | None = None, jenkinsfile: Path = JENKINSFILE, library_dir: Path = LIBRARY_DIR,
                 build_number: int = 7, commit: str = "0123abcd"):  # fmt: skip
        self.trigger, self.agent, self.approve = trigger, agent, approve or (lambda _: False)
        library = sorted(library_dir.glob("*.groovy"))
        asts = parse([jenkinsfile, *library])
        self.library = {p.stem: asts[p]["methods"]["call"] for p in library}
        self.script = asts[jenkinsfile]["statements"]
        self.env = {**node_env, **trigger.jenkins_env(build_number, commit)}
        self.assigned: dict[str, str] = {}  # `env.NAME = ...` of the steps so far
        self.events: list[Event] = []
        self.result = "SUCCESS"
        self.failure = ""  # what stopped a FAILURE build
        self.stashes: dict[str, dict[str, bytes]] = {}
        self.archived: dict[str, bytes] = {}
        self.stage = ""
        self.workspace: Path | None = None

    # -- declarative ------------------------------------------------------------------------------------------------

    def run(self) -> Build:
        (pipeline,) = [s["expr"] for s in self.script if s["expr"].get("name") == "pipeline"]
        body = _directives(_closure_arg(pipeline))
        if _agent(body) is not None:
            raise Unsupported("a pipeline-wide agent: approvals would hold an executor")
        env = {**self.env, **self._environment(body.get("environment"), self.env)}
        try:
            self._stages(_directives(_closure_arg(body["stages"])).get("stage", []), env)
        except _Waiting:
            self.result = "WAITING"
            return self
        except BuildFailed as failure:
            self.result = "FAILURE"
            self.failure = str(failure)
        self._post(body.get("post"), env, "")
        return self

    def _stages(self, stages: list[dict], env: dict[str, str]) -> None:
        for stage in stages:
            name = stage["args"][0]["v"]
            self.stage = name
            inner = _directives(_closure_arg(stage))
            if not self._when(inner.get("when")):
                self.events.append(Event("skip", name))
                continue
            self.events.append(Event("stage", name))
            self._options(inner.get("options"))
            label = _agent(inner)
            env = {**env, **self.assigned}  # what earlier stages set with `env.NAME = ...`
            stage_env = {**env, **self._environment(inner.get("environment"), env)}
            if label:
                self.workspace = self.agent.checkout()  # a stage's agent checks the commit out into its workspace
                self.events.append(Event("agent", name, {"label": label, "workspace": str(self.workspace)}))
            try:
                if "steps" in inner:
                    self._block(_closure_arg(inner["steps"]), stage_env, {})
                elif "stages" in inner:
                    self._stages(_directives(_closure_arg(inner["stages"])).get("stage", []), stage_env)
                    self.stage = name
                else:
                    raise Unsupported(f"stage {name!r} has neither steps nor stages")
            except BuildFailed:
                self.result = "FAILURE"
                self._post(inner.get("post"), stage_env, name)
                raise
            self._post(inner.get("post"), stage_env, name)
            if label:
                self.workspace = None

    def _options(self, node: dict | None) -> None:
        for option in _calls(node):
            args = self._args(option, {}, self.env)
            self.events.append(Event("option", self.stage, {"name": option["name"], **args}))
            if option["name"] == "lock":
                self.events.append(Event("lock", self.stage, args))

    def _when(self, node: dict | None) -> bool:
        return node is None or all(self._condition(c) for c in _calls(node) if c["name"] != "beforeAgent")

    def _condition(self, call: dict) -> bool:
        name = call["name"]
        if name == "branch":
            return fnmatch.fnmatchcase(self.trigger.branch, call["args"][0]["v"])
        if name == "changeset":
            return any(ant_match(call["args"][0]["v"], path) for path in self.trigger.changes)
        if name == "changeRequest":
            return self.trigger.change_target is not None
        if name == "triggeredBy":
            return False  # a dry run is started by a push or a PR, never by the timer
        if name in ("allOf", "anyOf", "not"):
            results = [self._condition(c) for c in _calls(call)]
            return {"allOf": all, "anyOf": any, "not": lambda r: not r[0]}[name](results)
        raise Unsupported(f"the when condition {name}")

    def _environment(self, node: dict | None, env: dict[str, str]) -> dict[str, str]:
        out = {}
        for statement in _closure_arg(node) if node else []:
            expr = statement.get("expr", {})
            if expr.get("k") != "assign":
                raise Unsupported(f"the environment entry {expr}")
            out[expr["target"]["name"]] = str(self._eval(expr["value"], {}, {**env, **out}))
        return out

    def _post(self, node: dict | None, env: dict[str, str], stage: str) -> None:
        conditions = {c["name"]: c for c in _calls(node)}
        unknown = set(conditions) - {"always", "success", "failure", "unstable", "fixed", "cleanup", "aborted"}
        if unknown:
            raise Unsupported(f"post conditions {unknown}")
        runs = {"always": True, "success": self.result == "SUCCESS", "failure": self.result == "FAILURE",
                "unstable": self.result == "UNSTABLE", "fixed": False, "aborted": False, "cleanup": True}  # fmt: skip
        for name in ("always", "success", "failure", "unstable", "fixed", "aborted", "cleanup"):
            if name in conditions and runs[name]:
                self.stage = stage
                try:
                    self._block(_closure_arg(conditions[name]), env, {})
                except BuildFailed:
                    self.result = "FAILURE"

    # -- Groovy ------------------------------------------------------------------------------------------------------

    def _block(self, statements: list[dict], env: dict[str, str], scope: dict[str, Any]) -> Any:
        """Run statements; the value is an explicit `return`'s (wrapped in _Return) or the last expression's."""
        value = None
        for statement in statements:
            kind = statement["k"]
            if kind == "expr":
                value = self._eval(statement["expr"], scope, env)
            elif kind == "if":
                branch = statement["then"] if self._eval(statement["cond"], scope, env) else statement["else"]
                value = self._block(branch, env, scope)
                if isinstance(value, _Return):
                    return value
            elif kind == "return":
                return _Return(self._eval(statement["expr"], scope, env))
            else:
                raise Unsupported(f"the statement {kind}")
        return value

    def _eval(self, e: dict, scope: dict[str, Any], env: dict[str, str]) -> Any:  # noqa: C901, PLR0911, PLR0912
        k = e["k"]
        if k == "const":
            return e["v"]
        if k == "gstring":
            values = [self._eval(v, scope, env) for v in e["values"]]
            for value, node in zip(values, e["values"], strict=True):
                if value is None:
                    raise MissingVariable(f"stage {self.stage!r}: {_describe(node)} is not set, Jenkins would say null")
            parts = [e["strings"][0]]
            for value, text in zip(values, e["strings"][1:], strict=False):
                parts += [str(value), text]
            return "".join(parts)
        if k == "var":
            if e["name"] in scope:
                return scope[e["name"]]
            if e["name"] == "env":
                return _Env(env)
            raise Unsupported(f"stage {self.stage!r}: unknown variable {e['name']}")
        if k == "prop":
            owner = self._eval(e["obj"], scope, env)
            if isinstance(owner, _Env):
                return owner.values.get(e["name"])
            raise Unsupported(f"the property {e['name']} of {owner!r}")
        if k == "list":
            return [self._eval(i, scope, env) for i in e["items"]]
        if k == "map":
            return {self._eval(a, scope, env): self._eval(b, scope, env) for a, b in e["entries"]}
        if k == "closure":
            return Closure(e["params"], e["body"], scope)
        if k == "assign":
            value = self._eval(e["value"], scope, env)
            target = e["target"]
            if target["k"] == "prop" and target["obj"] == {"k": "var", "name": "env"}:
                # `env.NAME = value`: the rest of this block and every later stage see it, as in Jenkins
                env[target["name"]] = self.assigned[target["name"]] = str(value)
            else:
                scope[target["name"]] = value
            return value
        if k == "not":
            return not self._eval(e["expr"], scope, env)
        if k == "binary":
            return _binary(e["op"], self._eval(e["left"], scope, env), lambda: self._eval(e["right"], scope, env))
        if k == "elvis":
            return self._eval(e["left"], scope, env) or self._eval(e["right"], scope, env)
        if k == "call":
            return self._call(e, scope, env)
        raise Unsupported(f"the expression {k}")

    def _call(self, e: dict, scope: dict[str, Any], env: dict[str, str]) -> Any:
        if e["obj"] is not None:
            return self._method(self._eval(e["obj"], scope, env), e["name"], self._positional(e, scope, env), env)
        name = e["name"]
        if name in scope and isinstance(scope[name], Closure):
            return self._closure(scope[name], self._positional(e, scope, env), env)
        if name in self.library:
            return self._library(name, self._positional(e, scope, env), env)
        return self._step(name, e, scope, env)

    def _positional(self, e: dict, scope: dict[str, Any], env: dict[str, str]) -> list[Any]:
        out: list[Any] = []
        for arg in e["args"]:
            if arg["k"] == "named":
                out.append({key: self._eval(v, scope, env) for key, v in arg["entries"]})
            else:
                out.append(self._eval(arg, scope, env))
        return out

    def _args(self, e: dict, scope: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        """A step's named arguments (and a lone positional one as `value`); closures excluded."""
        args: dict[str, Any] = {}
        for value in self._positional(e, scope, env):
            if isinstance(value, dict):
                args |= value
            elif not isinstance(value, Closure):
                args.setdefault("value", value)
        return args

    def _library(self, name: str, args: list[Any], env: dict[str, str]) -> Any:
        method = self.library[name]
        if len(args) > len(method["params"]):
            raise Unsupported(f"{name} takes {len(method['params'])} arguments, got {len(args)}")
        scope: dict[str, Any] = {}
        for i, param in enumerate(method["params"]):
            if i < len(args):
                scope[param["name"]] = args[i]
            elif param["default"] is not None:
                scope[param["name"]] = self._eval(param["default"], {}, env)
            else:
                raise Unsupported(f"{name}: no value for {param['name']}")
        result = self._block(method["body"], env, scope)
        return result.value if isinstance(result, _Return) else result

    def _closure(self, closure: Closure, args: list[Any], env: dict[str, str]) -> Any:
        scope = dict(closure.scope)
        scope.update(zip(closure.params, args, strict=False))
        result = self._block(closure.body, env, scope)
        for key in closure.scope:  # assignments to the enclosing scope's locals stay visible there
            closure.scope[key] = scope[key]
        return result.value if isinstance(result, _Return) else result

    def _method(self, owner: Any, name: str, args: list[Any], env: dict[str, str]) -> Any:  # noqa: PLR0911
        if isinstance(owner, _Env) and name == "getProperty":
            return owner.values.get(args[0])
        if isinstance(owner, str) and name in ("toUpperCase", "toLowerCase", "trim"):
            return {"toUpperCase": owner.upper, "toLowerCase": owner.lower, "trim": owner.strip}[name]()
        if isinstance(owner, list) and name == "contains":
            return args[0] in owner
        if isinstance(owner, list) and name == "join":
            return args[0].join(str(x) for x in owner)
        items = list(owner.items()) if isinstance(owner, dict) else owner
        if isinstance(owner, list | dict) and name in ("each", "collect", "collectEntries"):
            closure = args[0]
            results = [self._closure(closure, list(i) if isinstance(owner, dict) else [i], env) for i in items]
            if name == "collectEntries":
                return {k: v for r in results for k, v in r.items()}
            return results if name == "collect" else owner
        raise Unsupported(f"the method {name} on {type(owner).__name__}")

    # -- steps -------------------------------------------------------------------------------------------------------

    def _step(self, name: str, e: dict, scope: dict[str, Any], env: dict[str, str]) -> Any:  # noqa: C901, PLR0911, PLR0912
        values = self._positional(e, scope, env)
        body = next((v for v in values if isinstance(v, Closure)), None)
        args = self._args(e, scope, env)
        if name == "sh":
            return self._sh(args, env)
        if name == "error":
            raise BuildFailed(args["value"])
        if name == "unstable":
            self.result = "UNSTABLE"
            self.events.append(Event("step", self.stage, {"name": "unstable", **args}))
            return None
        if name == "withAWS":
            return self._with_aws(args, body, env)
        if name == "withCredentials":
            bound = {}
            for binding in args["value"]:
                if binding.get("step") != "gitUsernamePassword":
                    raise Unsupported(f"the credential binding {binding}")
                self.events.append(Event("credentials", self.stage, binding))
                bound |= {"GIT_ASKPASS": "(git-askpass of " + binding["credentialsId"] + ")"}
            return self._closure(body, [], {**env, **bound})
        if name == "gitUsernamePassword":
            return {"step": name, **args}
        if name == "parallel":
            branches = args if body is None else {}
            with ThreadPoolExecutor(max_workers=len(branches)) as pool:
                futures = [pool.submit(self._closure, branch, [], env) for branch in branches.values()]
                for future in futures:
                    future.result()
            return None
        if name == "input":
            self.events.append(Event("input", self.stage, args))
            if not self.approve(args):
                raise _Waiting(args)
            # with submitterParameter, input returns who approved: one of the submitter group, in a dry run
            return f"a member of {args['submitter']}" if "submitterParameter" in args else None
        if name in ("milestone", "stash", "unstash", "archiveArtifacts", "junit", "cleanWs", "mail", "echo"):
            self.events.append(Event(name if name in ("milestone", "stash", "unstash") else "step", self.stage,
                                     {"name": name, **args}))  # fmt: skip
            if name in ("stash", "unstash", "cleanWs", "archiveArtifacts"):
                self._workspace_step(name, args)
            return None
        if name in ("timeout", "lock", "timestamps"):
            self.events.append(Event(name, self.stage, args))
            return self._closure(body, [], env) if body else None
        raise Unsupported(f"stage {self.stage!r}: the step {name}")

    def _sh(self, args: dict[str, Any], env: dict[str, str]) -> Any:
        script = args.get("script", args.get("value"))
        if self.workspace is None:
            raise Unsupported(f"stage {self.stage!r}: sh outside an agent (no workspace)")
        self.events.append(Event("sh", self.stage, {"script": script, "env": dict(env)}))
        status = self.agent.sh(self.stage, script, env, self.workspace)
        if args.get("returnStatus"):
            return status
        if status != 0:
            raise BuildFailed(f"script returned exit code {status}: {script}")
        return None

    def _with_aws(self, args: dict[str, Any], body: Closure | None, env: dict[str, str]) -> Any:
        role, account = args["role"], args.get("roleAccount")
        if not account:
            raise MissingVariable(f"stage {self.stage!r}: withAWS for {role} has no roleAccount")
        arn = f"arn:aws:iam::{account}:role/{role}"
        session, duration = args.get("roleSessionName", "jenkins"), int(args.get("duration", 3600))
        self.events.append(Event("assume", self.stage, {"role": role, "arn": arn, "session": session,
                                                        "use_node": args.get("useNode", False)}))  # fmt: skip
        credentials = self.agent.assume_role(arn, session, duration, env)
        region = {"AWS_REGION": args["region"], "AWS_DEFAULT_REGION": args["region"]} if args.get("region") else {}
        assert body is not None
        return self._closure(body, [], {**env, **credentials, **region})

    def _workspace_step(self, name: str, args: dict[str, Any]) -> None:
        """stash/unstash move files between stages (and agents) of a build; cleanWs empties the workspace."""
        if self.workspace is None:
            raise Unsupported(f"stage {self.stage!r}: {name} outside an agent")
        if name == "cleanWs":
            shutil.rmtree(self.workspace)
            self.workspace.mkdir()
        elif name in ("stash", "archiveArtifacts"):
            pattern = args["includes"] if name == "stash" else args["artifacts"]
            files = {str(p.relative_to(self.workspace)): p.read_bytes() for p in self.workspace.rglob("*")
                     if p.is_file() and ant_match(pattern, str(p.relative_to(self.workspace)))}  # fmt: skip
            if name == "archiveArtifacts":  # kept by the controller: the build's page lists them
                if not files and not args.get("allowEmptyArchive"):
                    raise BuildFailed(f"archiveArtifacts: no files match {pattern}")
                self.archived.update(files)
            elif not files:
                raise BuildFailed(f"stash {args['name']}: no files match {pattern}")
            else:
                self.stashes[args["name"]] = files
        else:
            stash = self.stashes.get(args.get("name", args.get("value")))
            if stash is None:
                raise BuildFailed(f"no such saved stash {args}")
            for relative, data in stash.items():
                (self.workspace / relative).parent.mkdir(parents=True, exist_ok=True)
                (self.workspace / relative).write_bytes(data)

    # -- reading the result ------------------------------------------------------------------------------------------

    def of(self, kind: str, stage: str | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (stage is None or e.stage == stage)]

    def stages_run(self) -> list[str]:
        return [e.stage for e in self.of("stage")]

    def make_calls(self, stage: str | None = None) -> list[str]:
        return [e.detail["script"] for e in self.of("sh", stage)]


class _Waiting(Exception):  # noqa: N818 (not an error: the build waits at an approval nobody answered)
    pass


@dataclass
class _Return:
    value: Any


@dataclass
class _Env:
    values: dict[str, str]


def _binary(op: str, left: Any, right: Callable[[], Any]) -> Any:
    if op == "&&":
        return left and right()
    if op == "||":
        return left or right()
    value = right()
    ops = {"==": lambda: left == value, "!=": lambda: left != value, "+": lambda: left + value,
           "in": lambda: left in value}  # fmt: skip
    if op not in ops:
        raise Unsupported(f"the operator {op}")
    return ops[op]()


def _describe(node: dict) -> str:
    if node["k"] == "prop" and node["obj"].get("name") == "env":
        return f"env.{node['name']}"
    return json.dumps(node)[:80]


def _closure_arg(call: dict) -> list[dict]:
    """The body of `name(...) { ... }`: its closure argument's statements."""
    closures = [a for a in call["args"] if a["k"] == "closure"]
    if len(closures) != 1:
        raise Unsupported(f"{call.get('name')} without exactly one block")
    return closures[0]["body"]


def _calls(node: dict | None) -> list[dict]:
    return [s["expr"] for s in _closure_arg(node)] if node else []


def _directives(statements: list[dict]) -> dict[str, Any]:
    """A declarative block's directives by name (`stage` repeats, so it is a list)."""
    out: dict[str, Any] = {}
    for statement in statements:
        call = statement.get("expr", {})
        if call.get("k") != "call":
            raise Unsupported(f"the declarative statement {call}")
        if call["name"] == "stage":
            out.setdefault("stage", []).append(call)
        else:
            out[call["name"]] = call
    return out


def _agent(directives: dict[str, Any]) -> str | None:
    """A stage's agent label; None for `agent none` or no agent."""
    agent = directives.get("agent")
    if agent is None:
        return None
    arg = agent["args"][0]
    if arg["k"] == "var" and arg["name"] == "none":
        return None
    if arg["k"] == "closure":
        (label,) = [s["expr"] for s in arg["body"] if s["expr"]["name"] == "label"]
        return label["args"][0]["v"]
    raise Unsupported(f"the agent {arg}")


def ant_match(pattern: str, path: str) -> bool:
    """Jenkins patterns (changeset, stash includes) are Ant globs: `**` any number of directories, `*` within one."""
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
