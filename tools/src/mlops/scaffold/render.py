"""Answers and rendering for templates/model-project: one code path shared by `new-model` and `template update`.

The answer rules live in the template's own pre-generation hook (so plain `cookiecutter` enforces them too);
`answer_problems` runs the same function before anything is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.errors import MlopsError
from mlops.core.paths import MODEL_TEMPLATE

DEFAULT_TEMPLATE = MODEL_TEMPLATE
RECORD_FILE = ".mlops-template.json"


class GeneratorError(MlopsError):
    """A problem the user can fix; its message says what and how."""


@dataclass(frozen=True)
class TemplateVersion:
    source: str  # the Git repository holding the template
    path: str  # the template's folder inside it
    commit: str
    dirty: bool


def template_version(template_dir: Path) -> TemplateVersion:
    import git

    try:
        repo = git.Repo(template_dir, search_parent_directories=True)
        commit = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return TemplateVersion(str(template_dir), ".", "unknown", True)
    root = Path(repo.working_dir)
    path = template_dir.resolve().relative_to(root.resolve()).as_posix()
    dirty = bool(repo.git.status("--porcelain", "--", path).strip())
    return TemplateVersion(str(root), path, commit, dirty)


def template_keys(template_dir: Path) -> list[str]:
    return list(json.loads((template_dir / "cookiecutter.json").read_text()))


def answer_problems(template_dir: Path, answers: dict) -> list[str]:
    """Run `problems()` from the template's pre-generation hook (its `__main__` part is not executed)."""
    hook = template_dir / "hooks" / "pre_gen_project.py"
    if not hook.is_file():
        return []
    namespace: dict = {"__name__": "pre_gen_project"}
    exec(compile(hook.read_text(), str(hook), "exec"), namespace)  # noqa: S102 - the template's own hook file
    return namespace["problems"](answers)


def slug_of(name: str) -> str:
    """The project slug a NAME stands for: lowercase, every run of other characters one hyphen ("Churn Model" and
    "churn_model" -> "churn-model"). The template's rules then judge it (a DNS label; the package is churn_model)."""
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")


# asked when not given (and not --no-input); every other answer is derived (the slug and name from NAME, the region
# and the bucket from the platform's settings, where the platform comes from) or keeps its default
QUESTIONS = (
    "owner",
    "problem_type",
    "model_family",
    "serving_target",
    "aws_account_id",
    "include_drift_monitoring",
    "include_scheduled_retraining",
)
Ask = Callable[[str, Any], Any]  # (answer key, its default: a value, or a list of choices) -> the answer


def resolve_answers(
    template_dir: Path, overrides: dict[str, str], no_input: bool, ask: Ask | None = None, questions=QUESTIONS
) -> dict:
    """cookiecutter.json defaults + overrides (+ `ask` for the questions not given, unless no_input), rendered;
    raises GeneratorError naming every bad answer at once (a value outside its choices included)."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(str(template_dir / "cookiecutter.json"))
    raw = context["cookiecutter"]
    outside: dict[str, str] = {}  # choice answers not among the choices: reported with the rest, not one by one

    def put(key: str, value: Any) -> None:
        default = raw.get(key)
        if isinstance(default, list):
            if value in default:
                raw[key] = [value, *(v for v in default if v != value)]
            else:
                outside[key] = value
        else:
            raw[key] = value

    for key, value in overrides.items():
        put(key, value)
    if not no_input and ask is not None:
        for key in questions:
            if key in raw and key not in overrides:
                put(key, ask(key, raw[key]))
    answers = dict(prompt_for_config(context, no_input=True))
    answers.update(outside)
    problems = answer_problems(template_dir, answers)
    if problems:
        raise GeneratorError("invalid answers:\n  - " + "\n  - ".join(problems))
    return answers


def render(
    template_dir: Path, answers: dict, output_dir: Path, *, hooks: bool = True, hook_env: dict[str, str] | None = None
) -> Path:
    """Write the project into output_dir/<slug>; hooks=False renders files only (no Git, DVC or sample data).
    `hook_env` is what the post-generation hook reads besides the answers (the platform's wheels, uv)."""
    from cookiecutter.exceptions import CookiecutterException, FailedHookException, OutputDirExistsException
    from cookiecutter.generate import generate_files

    extra = {**(hook_env or {}), "MLOPS_TEMPLATE_RENDER_ONLY": "0" if hooks else "1"}
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        return Path(
            generate_files(
                repo_dir=str(template_dir),
                context={"cookiecutter": answers},
                output_dir=str(output_dir),
                overwrite_if_exists=False,
                accept_hooks=True,  # the post hook prunes optional folders even in render-only mode
            )
        )
    except OutputDirExistsException:
        raise GeneratorError(
            f"{output_dir / answers['project_slug']} already exists; choose another --output-dir"
        ) from None
    except FailedHookException as exc:
        raise GeneratorError(f"the template's hook failed (nothing kept): {exc}") from None
    except CookiecutterException as exc:
        raise GeneratorError(f"cookiecutter: {exc}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
