"""A model project on disk: its params, its Git facts (via gitpython) and its DVC data.

DVC is driven through its own command line (the `dvc` beside this interpreter) so a DVC failure is an exit code
and a message, never a half-imported library state; the errors are turned into messages that say what to do.

`dvc` and everything it starts (the training stages) run in a process group of their own, watched by a small
reaper process that kills the whole group when this process goes away, however it goes (a timeout, an exception,
SIGKILL): a crashed retrain leaves no `dvc repro` or training running under PID 1.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import get_settings
from mlops.core.urls import without_credentials
from mlops.training.params import Params, load_params

# what DVC prints when the remote itself cannot be reached: worth a retry, unlike a missing file
_UNREACHABLE = (
    "could not connect",
    "failed to connect",
    "connection refused",
    "endpointconnectionerror",
    "connect timeout",
    "unable to connect",
    "name or service not known",
)
# files a pipeline run rewrites itself; a change to them does not make the code tree dirty
_PIPELINE_WRITES = ("dvc.lock", ".gitignore")


def pipeline_outputs(root: Path) -> set[str]:
    """What `dvc repro` writes, from dvc.yaml: every stage's outs, metrics and plots (project-relative). A metrics
    file with `cache: false` belongs in Git, so a run rewrites a committed file: that is not an uncommitted change."""
    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return set()
    found = set()
    for stage in stages.values() if isinstance(stages, dict) else []:
        if not isinstance(stage, dict):
            continue
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                path = next(iter(entry)) if isinstance(entry, dict) else entry  # `- metrics.json: {cache: false}`
                found.add(str(path).rstrip("/"))
    return found


def written_by_pipeline(path: str, outputs: set[str]) -> bool:
    return Path(path).name in _PIPELINE_WRITES or any(path == o or path.startswith(o + "/") for o in outputs)


@dataclass(frozen=True)
class GitFacts:
    commit: str
    dirty: bool
    url: str  # origin's URL, or the project directory when it has no origin


def venv_bin() -> Path:
    return Path(sys.executable).parent


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # DVC's content address, not a security control
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Project:
    def __init__(self, root: Path, params_file: str | Path = "params.yaml"):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise MlopsError(f"project directory {root} does not exist")
        params_path = Path(params_file)
        self.params_path = params_path if params_path.is_absolute() else self.root / params_path
        self.params: Params = load_params(self.params_path)

    def path(self, relative: str) -> Path:
        return self.root / relative

    # ---- Git -----------------------------------------------------------------------------------------------
    def git_facts(self) -> GitFacts:
        import git  # gitpython: slow to import, only needed here

        try:
            repo = git.Repo(self.root, search_parent_directories=True)
            commit = repo.head.commit.hexsha
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise MlopsError(f"{self.root} is not inside a Git repository; commit the project first") from None
        except ValueError:
            raise MlopsError(f"the Git repository at {self.root} has no commit yet") from None
        changed = {d.a_path for d in repo.index.diff(None)} | {d.a_path for d in repo.index.diff("HEAD")}
        # a_path is typed optional; GitPython's index diffs always set it
        prefix = self.root.relative_to(Path(repo.working_dir).resolve()).as_posix()  # Git paths: from the repo root
        outputs = {o if prefix == "." else f"{prefix}/{o}" for o in pipeline_outputs(self.root)}
        dirty = any(not written_by_pipeline(p, outputs) for p in changed if p is not None)
        url = repo.remotes.origin.url if "origin" in [r.name for r in repo.remotes] else str(repo.working_dir)
        return GitFacts(commit=commit, dirty=dirty, url=without_credentials(url))

    # ---- DVC-tracked data ----------------------------------------------------------------------------------
    def datasets(self) -> dict[str, str]:
        """Project-relative path -> DVC md5, for every input the params name (from its `.dvc` file)."""
        found = {}
        for relative in self.params.data.raw:
            dvc_file = self.path(relative + ".dvc")
            if not dvc_file.is_file():
                raise MlopsError(
                    f"{relative} is not tracked by DVC ({dvc_file.name} is missing); run `dvc add {relative}`"
                )
            try:
                outs = yaml.safe_load(dvc_file.read_text())["outs"]
                found[relative] = str(outs[0]["md5"])
            except (yaml.YAMLError, KeyError, IndexError, TypeError):
                raise MlopsError(f"{dvc_file} is not a valid DVC file (no outs[0].md5)") from None
        return found

    def verify_datasets(self) -> dict[str, str]:
        """Every input is present and its content matches the md5 DVC recorded: the data version is exact."""
        expected = self.datasets()
        for relative, md5 in expected.items():
            path = self.path(relative)
            if not path.is_file():
                raise MlopsError(f"data file {relative} is missing; run `dvc pull` to fetch version {md5}")
            actual = file_md5(path)
            if actual != md5:
                raise MlopsError(
                    f"checksum mismatch for {relative}: its md5 is {actual} but {relative}.dvc records {md5}; "
                    f"run `dvc checkout {relative}` to restore that version or `dvc add {relative}` to record a new one"
                )
        return expected

    def dvc_lock_md5(self) -> str | None:
        lock = self.path("dvc.lock")
        return file_md5(lock) if lock.is_file() else None

    def _dvc_config(self, name: str) -> configparser.ConfigParser:
        parser = configparser.ConfigParser()
        path = self.path(f".dvc/{name}")
        if path.is_file():
            parser.read(path)
        return parser

    def remote(self) -> tuple[str, str]:
        """(name, url) of the default DVC remote."""
        config = self._dvc_config("config")
        name = config.get("core", "remote", fallback=None)
        url = None
        for section in (f"'remote \"{name}\"'", f'remote "{name}"'):  # DVC writes the quoted form
            url = url or config.get(section, "url", fallback=None)
        if not name or not url:
            raise MlopsError(f"{self.root} has no default DVC remote; run `dvc remote add -d storage s3://...`")
        return name, url

    def configure_remote_endpoint(self) -> None:
        """Point the S3 remote at AWS_ENDPOINT_URL (the local stack) in config.local, which Git never sees."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        name, url = self.remote()
        if endpoint and url.startswith("s3://"):
            self.dvc("remote", "modify", "--local", name, "endpointurl", endpoint)

    def dvc(self, *args: str, timeout: float | None = None) -> str:
        settings = get_settings()
        return run_dvc(
            self.root,
            *args,
            timeout=timeout or settings.retrain_dvc_timeout_seconds,
            timeout_is_transient=settings.retrain_retry_timeouts,
        )


# Run by `python -c` between this process and the command: it starts the command in a new process group and waits
# for either of two things: the command exits (then any stage it left running in the background is killed too), or
# the pipe from this process reaches EOF, which happens when this process closes it (a timeout) or dies in any way.
# Then the whole group gets SIGKILL. Standard library only, so it starts in a few milliseconds.
_REAPER = """
import os, select, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, whose exit is what counts here
watch = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:], process_group=0)
def kill_group():
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
signal.signal(signal.SIGTERM, lambda *_: (kill_group(), os._exit(143)))
try:
    exited = os.pidfd_open(child.pid)
except (AttributeError, OSError):
    exited = None
while True:
    ready, _, _ = select.select([watch] + ([exited] if exited is not None else []), [], [], None if exited else 0.2)
    if watch in ready and not os.read(watch, 1):
        kill_group()
        child.wait()
        os._exit(137)
    code = child.poll()
    if code is not None:
        kill_group()
        os._exit(code if code >= 0 else 128 - code)
"""


def run_dvc(root: Path, *args: str, timeout: float = 600, timeout_is_transient: bool = False) -> str:
    """Run `dvc ARGS` in `root`; the venv's bin comes first on PATH so stage commands find `mlops`. On a timeout
    the whole process group is killed, and the error is transient (retried) only when `timeout_is_transient`."""
    env = {**os.environ, "PATH": f"{venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    command = f"dvc {' '.join(args)}"
    watch, alive = os.pipe()  # this process holds `alive` (not inherited by any child); the reaper watches `watch`
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _REAPER, str(watch), str(venv_bin() / "dvc"), *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(watch,),
        )
    except BaseException:
        os.close(alive)
        raise
    finally:
        os.close(watch)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.close(alive)  # EOF: the reaper kills the whole group
        alive = -1
        proc.communicate(timeout=60)
        error = TransientError if timeout_is_transient else MlopsError
        raise error(
            f"`{command}` did not finish within {timeout:.0f}s; it and everything it started were stopped"
        ) from None
    finally:
        if alive >= 0:
            os.close(alive)
        if proc.poll() is None:  # interrupted while waiting (KeyboardInterrupt, SystemExit): the group goes too
            try:
                proc.wait(10)  # the reaper saw EOF and is killing the group
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    if proc.returncode != 0:
        output = f"{stdout}\n{stderr}".strip()
        last = "\n".join(line for line in output.splitlines()[-12:] if line.strip())
        if any(marker in output.lower() for marker in _UNREACHABLE):
            raise TransientError(f"`{command}`: the DVC remote cannot be reached: {last}")
        raise MlopsError(f"`{command}` failed in {root}: {last}")
    return stdout
