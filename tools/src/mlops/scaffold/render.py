"""Answers and rendering for templates/model-project: one code path shared by `new-model` and `template update`.

The answer rules live in the template's own pre-generation hook (so plain `cookiecutter` enforces them too);
`answer_problems` runs the same function before anything is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

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


def resolve_answers(template_dir: Path, overrides: dict[str, str], no_input: bool) -> dict:
    """cookiecutter.json defaults + overrides (+ prompts unless no_input), rendered; raises GeneratorError."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    try:
        context = generate_context(str(template_dir / "cookiecutter.json"), extra_context=overrides)
    except ValueError as exc:  # a value outside a choice list
        raise GeneratorError(str(exc)) from None
    answers = dict(prompt_for_config(context, no_input=no_input))
    problems = answer_problems(template_dir, answers)
    if problems:
        raise GeneratorError("invalid answers:\n  - " + "\n  - ".join(problems))
    return answers


def render(template_dir: Path, answers: dict, output_dir: Path, *, hooks: bool = True) -> Path:
    """Write the project into output_dir/<slug>; hooks=False renders files only (no Git, DVC or sample data)."""
    from cookiecutter.exceptions import CookiecutterException, FailedHookException, OutputDirExistsException
    from cookiecutter.generate import generate_files

    saved = os.environ.get("MLOPS_TEMPLATE_RENDER_ONLY")
    os.environ["MLOPS_TEMPLATE_RENDER_ONLY"] = "0" if hooks else "1"
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
        if saved is None:
            os.environ.pop("MLOPS_TEMPLATE_RENDER_ONLY", None)
        else:
            os.environ["MLOPS_TEMPLATE_RENDER_ONLY"] = saved
