"""Running a project's pipeline in a throw-away clone: the newest commit (retraining) or an exact one (reproduce).

Working in a fresh clone means a crash leaves the user's checkout, the Git history and the DVC remote untouched:
nothing here pushes; the clone is deleted afterwards.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops.core.errors import MlopsError, TransientError
from mlops.core.urls import without_credentials
from mlops.training.progress import Steps, files, size
from mlops.training.project import Project, log_file


@contextmanager
def clone(url: str, parent: Path, *, branch: str | None = None, commit: str | None = None) -> Iterator[Path]:
    import git

    parent.mkdir(parents=True, exist_ok=True)
    dest = parent / f"ws-{uuid.uuid4().hex[:10]}"
    try:
        try:
            options: dict[str, Any] = {"branch": branch} if branch else {}
            repo = git.Repo.clone_from(url, dest, **options)
        except git.GitCommandError as exc:
            text = re.sub(r"//[^/@\s]+@", "//", exc.stderr.strip() or str(exc))  # no credentials in messages
            unreachable = "could not read" in text.lower() or "unable to access" in text.lower()
            error = TransientError if unreachable else MlopsError
            raise error(
                f"cannot clone the project {without_credentials(url)}{f' (branch {branch})' if branch else ''}: {text}"
            ) from None
        if commit:
            try:
                repo.git.checkout(commit)
            except git.GitCommandError:
                raise MlopsError(f"commit {commit} is not in the project repository {url}") from None
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def pull_inputs(project: Project, steps: Steps | None = None) -> None:
    """Fetch exactly the data versions the `.dvc` files name, verified against their md5. `steps` shows it on the
    console as one line; DVC's own output goes to the log file."""
    steps = steps or Steps.silent()
    inputs = project.datasets()
    count, total = project.data_size()
    what = next(iter(inputs)) if len(inputs) == 1 else f"{len(inputs)} inputs"
    with steps.step(f"pulling {what} ({files(count)}, {size(total)})") as step:
        project.configure_remote_endpoint()
        targets = [f"{relative}.dvc" for relative in inputs]
        try:
            stdout = project.dvc("pull", *targets)
        except TransientError:
            raise
        except MlopsError as exc:
            raise _pull_error(project, exc) from None
        project.verify_datasets()
        said = stdout.strip().splitlines()[-1:] if stdout.strip() else []
        if said and re.match(r"(\d+ files?\b|everything is up to date)", said[0], re.IGNORECASE):
            step.result(said[0].rstrip(".").lower() if said[0].startswith("E") else said[0])


def _pull_error(project: Project, exc: MlopsError) -> MlopsError:
    """DVC's failure of a pull, said in terms of the data version: not in the remote, or a corrupt copy there."""
    text = (getattr(exc, "output", "") or str(exc)).lower()
    versions = ", ".join(f"{p}@{m}" for p, m in project.datasets().items())
    where = log_file()
    details = f" (DVC's output is in {where})" if where else ""
    if "checkout failed" in text and re.search(r"\b[1-9]\d* files? fetched", text):
        # downloaded, then refused at checkout: the remote's copy does not hash to the recorded md5
        return MlopsError(
            f"the DVC remote {project.remote()[1]} holds a corrupt copy of {versions}: "
            f"its content does not match the md5; restore it from a good cache with `dvc push`{details}"
        )
    if any(m in text for m in ("missing cache files", "checkout failed", "missing-files")):
        return MlopsError(f"data version {versions} is not in the DVC remote {project.remote()[1]}{details}")
    return exc


_RAN = re.compile(r"^Running stage '([^']+)'")
_CACHED = re.compile(r"^Stage '([^']+)' is cached")


def repro(project: Project, force: bool = False, steps: Steps | None = None) -> None:
    """`dvc repro`: the stages that changed (all of them with `force`). `steps` shows it on the console as one line
    that names the stages run; DVC's and the stages' own output goes to the log file."""
    steps = steps or Steps.silent()
    ran: list[str] = []
    restored: list[str] = []

    def seen(line: str) -> None:
        if found := _RAN.match(line):
            ran.append(found.group(1))
            step.note(f"stage {found.group(1)}")
        elif found := _CACHED.match(line):
            restored.append(found.group(1))

    with steps.step("running the pipeline (dvc repro" + (" --force)" if force else ")")) as step:
        project.dvc("repro", *(["--force"] if force else []), on_line=seen)
        said = [f"ran {', '.join(ran)}"] if ran else []
        said += [f"restored {', '.join(restored)} from the run cache"] if restored else []
        step.result("; ".join(said) or "nothing changed")
