"""Promotion writes Git: clone the release repo, branch `release/<model>/<env>/v<V>` off the remote's main, write
the manifest, commit with the lineage in the message, push. The env's policy says what happens next: dev
fast-forwards main itself; staging and prod stop at the pushed branch and a Git host client asks for review.

Everything happens in a throw-away clone, so the user's checkout is never touched; nothing is pushed unless the
manifest was written and validated.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from mlops.core.errors import MlopsError, TransientError
from mlops.core.urls import without_credentials
from mlops.release.evidence import evidence_path, load_evidence, sbom_path
from mlops.release.evidence_build import Pack
from mlops.release.hosts import GitHost
from mlops.release.manifest import Release, load_policy, manifest_path, parse_release

BASE = "main"


@dataclass
class Proposal:
    branch: str
    commit: str | None  # None: main already says this, nothing was pushed
    merged: bool
    note: str
    message: str = ""


def branch_name(release: Release) -> str:
    return f"release/{release.model.name}/{release.env}/v{release.model.version}"


def commit_message(release: Release, previous: Release | None, metrics: dict[str, float]) -> str:
    gate = release.gate
    against = (
        f"vs champion {gate.champion:.4f} (v{gate.champion_version})" if gate.champion is not None else "(no champion)"
    )
    lines = [
        f"release: {release.model.name} v{release.model.version} to {release.env}",
        "",
        f"model: {release.model.name} version {release.model.version}"
        + (f" (was v{previous.model.version})" if previous else " (first release)"),
        *(f"data: {path} md5 {md5}" for path, md5 in release.lineage.data.items()),
        f"dvc.lock md5: {release.lineage.dvc_lock_md5}",
        f"dvc remote: {release.lineage.dvc_remote_url}",
        f"project commit: {release.lineage.git_commit}",
        f"gate: {gate.decision}, {gate.primary_metric} {_num(gate.challenger)} {against}",
        *(f"metric: {name} {value:.4f}" for name, value in sorted(metrics.items())),
        "image: " + (f"{release.image.repository}@{release.image.digest}" if release.image else "unchanged"),
        "evidence: " + (_evidence_line(release) if release.evidence else "none"),
    ]
    return "\n".join(lines) + "\n"


def _evidence_line(release: Release) -> str:
    ref = release.evidence
    assert ref is not None
    signed = f"signed by {ref.signature.key_id}" if ref.signature else "unsigned"
    return f"{ref.file} sha256 {ref.sha256} ({signed})"


def _num(value: float | None) -> str:
    return "unmeasured" if value is None else f"{value:.4f}"


def _git_error(what: str, url: str, exc) -> MlopsError:
    text = re.sub(r"//[^/@\s]+@", "//", (getattr(exc, "stderr", "") or str(exc)).strip())
    unreachable = any(s in text.lower() for s in ("could not read", "unable to access", "does not appear"))
    return (TransientError if unreachable else MlopsError)(f"{what} {without_credentials(url)}: {text}")


def current_release(root: Path, model: str, env: str) -> Release | None:
    path = manifest_path(root, model, env)
    return parse_release(path.read_text(), f"{path.relative_to(root)} on {BASE}") if path.is_file() else None


def propose(
    repo_url: str,
    model: str,
    env: str,
    build: Callable[[Release | None], Release],
    message: Callable[[Release, Release | None], str],
    host: GitHost,
    author: str,
    attach: Callable[[Release], Pack] | None = None,
) -> Proposal:
    """`build` makes the manifest from the one on main (None when there is none yet); `message` the commit text;
    `attach` the evidence pack committed beside it (without one, an earlier pack of the env is removed: it would
    describe another release)."""
    import git

    with tempfile.TemporaryDirectory(prefix="mlops-release-") as tmp:
        try:
            repo = git.Repo.clone_from(repo_url, tmp, branch=BASE)
        except git.GitCommandError as exc:
            raise _git_error(f"cannot clone the release repo (branch {BASE})", repo_url, exc) from None
        root = Path(tmp)
        previous = current_release(root, model, env)
        release = build(previous)
        branch = branch_name(release)
        if previous is not None and previous.model_copy(update={"evidence": None}) == release:
            return Proposal(branch, None, False, f"{BASE} already releases {model} v{release.model.version} to {env}")
        # GitPython types a command's output as a union of its modes; a plain call like this one returns str
        if cast(str, repo.git.ls_remote("--heads", "origin", branch)).strip():
            raise MlopsError(f"branch {branch} already exists on {without_credentials(repo_url)}: already proposed")
        policy = load_policy(root).for_env(env)
        pack = attach(release) if attach else None
        if pack is not None:
            release = release.model_copy(update={"evidence": pack.ref})
        path = manifest_path(root, model, env)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(release.to_yaml())
        written = [path, *_write_pack(root, model, env, pack)]
        stale = [p for p in (evidence_path(root, model, env), sbom_path(root, model, env)) if p.exists()]
        stale = [p for p in stale if p not in written]
        committed = parse_release(path.read_text(), str(path.relative_to(root)))  # what is committed must load again
        if pack is not None:
            load_evidence(root, committed)
        text = message(release, previous)
        repo.git.checkout("-b", branch)
        if stale:
            repo.index.remove([str(p.relative_to(root)) for p in stale], working_tree=True)
        repo.index.add([str(p.relative_to(root)) for p in written])
        who = git.Actor(author, f"{re.sub(r'[^A-Za-z0-9._-]', '-', author)}@mlops.invalid")
        commit = repo.index.commit(text, author=who, committer=who).hexsha
        refspecs = [f"{branch}:refs/heads/{branch}"]
        if policy.auto_merge:  # main moves only by fast-forward: a main that moved meanwhile refuses the push
            refspecs.append(f"{branch}:refs/heads/{BASE}")
        try:
            repo.git.push("--atomic", "origin", *refspecs)
        except git.GitCommandError as exc:
            raise _git_error("push refused by", repo_url, exc) from None
    if policy.auto_merge:
        return Proposal(
            branch, commit, True, f"{env} merges itself (deploy/policy.yaml): {BASE} is now {commit[:12]}", text
        )
    title = text.splitlines()[0]
    try:
        note = host.open_change(repo_url, branch, BASE, title, text, policy.reviewers)
    except MlopsError as exc:
        raise MlopsError(f"branch {branch} was pushed, but the review request failed: {exc}") from None
    return Proposal(branch, commit, False, note, text)


def _write_pack(root: Path, model: str, env: str, pack: Pack | None) -> list[Path]:
    if pack is None:
        return []
    folder = manifest_path(root, model, env).parent
    for name, data in pack.files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in pack.files]


def origin_url(remote: str, start: Path) -> str:
    """The URL of `remote` in the checkout around `start` (the default release repo)."""
    import git

    try:
        return git.Repo(start, search_parent_directories=True).remotes[remote].url
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise MlopsError(f"{start} is not in a Git checkout: pass --repo PATH_OR_URL") from None
    except IndexError:
        raise MlopsError(f"the checkout at {start} has no remote {remote!r}: pass --repo or --remote") from None
