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
from mlops.training.project import Project


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


def pull_inputs(project: Project) -> None:
    """Fetch exactly the data versions the `.dvc` files name, verified against their md5."""
    project.configure_remote_endpoint()
    targets = [f"{relative}.dvc" for relative in project.datasets()]
    try:
        project.dvc("pull", *targets)
    except TransientError:
        raise
    except MlopsError as exc:
        text = str(exc).lower()
        versions = ", ".join(f"{p}@{m}" for p, m in project.datasets().items())
        if "checkout failed" in text and re.search(r"\b[1-9]\d* files? fetched", text):
            # downloaded, then refused at checkout: the remote's copy does not hash to the recorded md5
            raise MlopsError(
                f"the DVC remote {project.remote()[1]} holds a corrupt copy of {versions}: "
                "its content does not match the md5; restore it from a good cache with `dvc push`"
            ) from None
        if any(m in text for m in ("missing cache files", "checkout failed", "missing-files")):
            raise MlopsError(f"data version {versions} is not in the DVC remote {project.remote()[1]}") from None
        raise
    project.verify_datasets()


def repro(project: Project, force: bool = False) -> None:
    project.dvc("repro", *(["--force"] if force else []))
