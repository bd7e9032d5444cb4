"""The Makefile read statically, the way make reads it, without running make: its rules (targets, prerequisites,
recipes), its variables, and a rule's recipe expanded for given command-line variables.

Enough of GNU make for this repository's Makefile: `$(VAR)` and `${VAR}`, `$$`, the functions `or` and `if`
(`shell` and the file functions expand to nothing here: nothing is run), `=`, `:=`, `?=` and `export`. An
integration test (tests/integration/test_jenkins_make_targets.py) checks this reading against `make -n`."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core.paths import REPO_ROOT

MAKEFILE = REPO_ROOT / "Makefile"
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|::=|\+=|=)\s*(.*)$")
_RULE = re.compile(r"^([^:=#\t][^:=#]*?)\s*::?(?!=)\s*([^#;]*?)\s*(?:[#;].*)?$")
_SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"}


@dataclass
class Rule:
    target: str
    prerequisites: list[str] = field(default_factory=list)
    recipe: list[str] = field(default_factory=list)


class Makefile:
    def __init__(self, path: Path = MAKEFILE):
        self.path = path
        self.rules: dict[str, Rule] = {}
        self.variables: dict[str, str] = {}
        self.phony: set[str] = set()
        current: list[Rule] = []
        for line in _logical_lines(path.read_text()):
            if line.startswith("\t"):
                for rule in current:
                    rule.recipe.append(line[1:])
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if assignment := _ASSIGNMENT.match(line):
                name, flavour, value = assignment.groups()
                if flavour == "?=" and name in self.variables:
                    continue
                self.variables[name] = (self.variables.get(name, "") + " " if flavour == "+=" else "") + value.strip()
                continue
            if rule := _RULE.match(line):
                # names are expanded as make reads the line: $(VENV)/.synced is the target .venv/.synced
                targets, prerequisites = self.expand(rule.group(1)).split(), self.expand(rule.group(2)).split()
                if targets == [".PHONY"]:
                    self.phony.update(prerequisites)
                    current = []
                    continue
                current = []
                for target in targets:
                    found = self.rules.setdefault(target, Rule(target))
                    found.prerequisites += prerequisites
                    current.append(found)

    @property
    def targets(self) -> set[str]:
        return set(self.rules)

    def reads(self) -> set[str]:
        """Every variable the Makefile reads somewhere (defined here or expected from the command line/environment)."""
        return set(re.findall(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]", self.path.read_text()))

    def expand(self, text: str, overrides: dict[str, str] | None = None) -> str:
        """`text` as make expands it, with `overrides` as command-line variables (which beat the Makefile's own)."""
        return _Expander(self.variables, overrides or {}).expand(text)

    def recipe(self, target: str, overrides: dict[str, str] | None = None) -> list[str]:
        """The shell lines `make TARGET` runs, prerequisites first (each rule once), expanded; no `@`/`-`/`+`."""
        lines: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            rule = self.rules.get(name)
            if rule is None:
                return  # a file with no rule (a source file make only checks the date of)
            for prerequisite in rule.prerequisites:
                visit(prerequisite)
            for line in rule.recipe:
                lines.append(self.expand(line, overrides).lstrip("@-+ "))

        if target not in self.rules:
            raise KeyError(f"no rule for target {target!r} in {self.path}")
        visit(target)
        return lines

    def mlops_commands(self, target: str, overrides: dict[str, str] | None = None) -> list[list[str]]:
        """The `mlops` invocations in `make TARGET`'s recipe, as argv lists without the `mlops` itself."""
        return [argv for line in self.recipe(target, overrides) for argv in mlops_invocations(line)]


def mlops_invocations(shell_line: str) -> list[list[str]]:
    """The `mlops ...` commands in one shell line (a pipeline or list may hold several), arguments only."""
    lexer = shlex.shlex(shell_line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    found = []
    for i, token in enumerate(tokens):
        if token == "mlops" or token.endswith("/mlops"):
            argv = []
            for word in tokens[i + 1 :]:
                if word in _SHELL_OPERATORS:
                    break
                argv.append(word)
            found.append(argv)
    return found


def _logical_lines(text: str) -> list[str]:
    """Physical lines joined at backslash-newline, as make joins them."""
    return re.sub(r"\\\n[ \t]*", " ", text).splitlines()


class _Expander:
    def __init__(self, variables: dict[str, str], overrides: dict[str, str]):
        self.variables, self.overrides = variables, overrides

    def value(self, name: str, depth: int) -> str:
        if name in self.overrides:
            return self.overrides[name]
        if name == "CURDIR":
            return str(REPO_ROOT)
        return self.expand(self.variables.get(name, ""), depth + 1)

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > 20:
            raise ValueError(f"recursive make variable in {text!r}")
        out, i = [], 0
        while i < len(text):
            char = text[i]
            if char != "$":
                out.append(char)
                i += 1
                continue
            nxt = text[i + 1 : i + 2]
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt in ("(", "{"):
                end = _closing(text, i + 1)
                out.append(self.reference(text[i + 2 : end], depth))
                i = end + 1
            else:  # $X: a one-letter variable
                out.append(self.value(nxt, depth))
                i += 2
        return "".join(out)

    def reference(self, inner: str, depth: int) -> str:
        function, _, rest = inner.partition(" ")
        if function in ("or", "if", "and", "shell", "wildcard", "strip"):
            args = _split_arguments(rest)
            if function == "or":
                return next((v for v in (self.expand(a, depth).strip() for a in args) if v), "")
            if function == "and":
                values = [self.expand(a, depth).strip() for a in args]
                return values[-1] if all(values) else ""
            if function == "if":
                branch = args[1] if self.expand(args[0], depth).strip() else (args[2] if len(args) > 2 else "")
                return self.expand(branch, depth)
            if function == "strip":
                return " ".join(self.expand(rest, depth).split())
            return ""  # shell, wildcard: nothing is run or globbed here
        return self.value(self.expand(inner, depth), depth)


def _closing(text: str, start: int) -> int:
    opening = text[start]
    closing = ")" if opening == "(" else "}"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {opening} in {text!r}")


def _split_arguments(text: str) -> list[str]:
    """A function's arguments: split at the commas outside nested references."""
    args, depth, current = [], 0, []
    for char in text:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
    args.append("".join(current))
    return args
