"""A model project on disk: its params, its Git facts (via gitpython) and its DVC data.

DVC is driven through its own command line (the `dvc` beside this interpreter) so a DVC failure is an exit code
and a message, never a half-imported library state; the errors are turned into messages that say what to do.

`dvc` and everything it starts (the training stages) run in a process group of their own, watched by a small
reaper process that kills the whole group when this process goes away, however it goes (a timeout, an exception,
SIGKILL): a crashed retrain leaves no `dvc repro` or training running under PID 1.

DVC's output (and the stages' it runs) never reaches the console: it is read as it comes, cleaned into whole lines
(escape sequences removed, a progress bar's redraws collapsed to its last state) and logged under `dvc.output`, which
the log file always holds and the console shows only with `--verbose`. A failure is one line naming the command,
DVC's own error and the log file; the commands' console lines are `mlops.training.progress`'s.
"""

from __future__ import annotations

import codecs
import configparser
import hashlib
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import yaml

from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import get_settings
from mlops.core.urls import without_credentials
from mlops.training.params import Params, load_params

log = logging.getLogger(__name__)
_dvc_log = logging.getLogger("dvc.output")  # a library's lines: the log file; the console only with --verbose

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

    def data_size(self) -> tuple[int, int]:
        """(files, bytes) of the inputs, as their `.dvc` files record them (a directory counts its files)."""
        count = total = 0
        for relative in self.params.data.raw:
            try:
                out = (yaml.safe_load(self.path(relative + ".dvc").read_text()) or {})["outs"][0]
            except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
                count += 1
                continue
            count += int(out.get("nfiles") or 1) if isinstance(out, dict) else 1
            total += int(out.get("size") or 0) if isinstance(out, dict) else 0
        return count, total

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

    def dvc(self, *args: str, timeout: float | None = None, on_line: Callable[[str], None] | None = None) -> str:
        settings = get_settings()
        return run_dvc(
            self.root,
            *args,
            timeout=timeout or settings.retrain_dvc_timeout_seconds,
            timeout_is_transient=settings.retrain_retry_timeouts,
            on_line=on_line,
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


class DvcError(MlopsError):
    """A `dvc` command failed. The message is one line (what failed, DVC's own error, where its whole output is);
    `output` is DVC's output (clean lines), for callers that tell one failure from another."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class DvcUnreachable(DvcError, TransientError):
    """The DVC remote cannot be reached: worth a retry."""


# a tqdm bar as DVC draws it: "Fetching |####| 1/2 [00:01<00:01, 1.0file/s]", "Collecting |1.00 [00:00, 138entry/s]"
_BAR = re.compile(r"\|.*\[\d+:\d{2}")
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")  # CSI, OSC, 2-byte
_MESSAGE_LIMIT = 600  # characters of DVC's error quoted in a message; the rest is in the log file
_KEPT_LINES = 5000  # DVC's last lines kept in memory (for the error message); all of them are in the log file
_PENDING_LIMIT = 1 << 16  # characters of an unfinished line held before it is cut


def clean_line(raw: str) -> str:
    """One line as a terminal would leave it: escape sequences removed, a progress bar's redraws (carriage returns)
    collapsed to the last thing drawn, trailing blanks dropped; "" when nothing is left."""
    text = _ESCAPES.sub("", raw)
    for segment in reversed(text.split("\r")):
        if segment.strip():
            return "".join(ch for ch in segment.rstrip() if ch == "\t" or ch.isprintable())
    return ""


def is_progress_bar(line: str) -> bool:
    return bool(_BAR.search(line)) or line.strip() == "!"  # "!": DVC's spinner before a bar starts


def log_file() -> Path | None:
    """The log file this process writes to (`mlops` commands: `<state dir>/logs/mlops.log`), if any."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and getattr(handler, "_mlops", False):
            return Path(handler.baseFilename)
    return None


class _Output:
    """DVC's output as it arrives, from both pipes: each clean line goes to the log file (logger `dvc.output`, which
    the console shows only with --verbose) and to `on_line`, and is kept for the error message."""

    def __init__(self, command: str, on_line: Callable[[str], None] | None) -> None:
        self.command = command
        self.on_line = on_line
        self.lines: deque[tuple[str, str]] = deque(maxlen=_KEPT_LINES)  # (stream, line), in arrival order
        self._lock = threading.Lock()

    def pump(self, pipe: IO[bytes], stream: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while chunk := os.read(pipe.fileno(), 1 << 16):
                *whole, pending = (pending + decoder.decode(chunk)).split("\n")
                for raw in whole:
                    self._emit(raw, stream)
                if len(pending) > _PENDING_LIMIT and "\r" in pending:  # a bar redrawn for an hour, no newline
                    head, tail = pending.rsplit("\r", 1)
                    drawn = [segment for segment in head.split("\r") if segment.strip()]
                    pending = (drawn[-1] + "\r" if drawn else "") + tail  # what clean_line would pick from it
                if len(pending) > _PENDING_LIMIT:  # one huge line with no end in sight
                    self._emit(pending, stream)
                    pending = ""
            self._emit(pending + decoder.decode(b"", final=True), stream)
        finally:
            pipe.close()

    def _emit(self, raw: str, stream: str) -> None:
        line = clean_line(raw)
        if not line or line == "!":  # "!": DVC's spinner, drawn before a bar
            return
        with self._lock:
            self.lines.append((stream, line))
        _dvc_log.info(line, extra={"dvc_command": self.command, "stream": stream})
        if self.on_line is not None:
            try:
                self.on_line(line)
            except Exception:  # a progress display must never break the command
                log.debug("progress callback failed", exc_info=True)

    def text(self, stream: str | None = None) -> str:
        with self._lock:
            return "\n".join(line for s, line in self.lines if stream is None or s == stream)

    def summary(self) -> str:
        """DVC's own error in one line: its ERROR lines, and a stage's `Error:` line (the stages are `mlops`
        commands); else the last line that is not a progress bar."""
        with self._lock:
            lines = [line for _, line in self.lines if not is_progress_bar(line)]
        errors = [line.split(":", 1)[1].strip() for line in lines if line.startswith("ERROR:")]
        errors += [line.split(":", 1)[1].strip() for line in lines if line.startswith("Error:")]
        found = "; ".join(dict.fromkeys(e for e in errors if e)) or (lines[-1] if lines else "no output")
        return found if len(found) <= _MESSAGE_LIMIT else found[: _MESSAGE_LIMIT - 3] + "..."


def _details() -> str:
    where = log_file()
    return f" (DVC's output is in {where})" if where else ""


def run_dvc(
    root: Path,
    *args: str,
    timeout: float = 600,
    timeout_is_transient: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run `dvc ARGS` in `root`; the venv's bin comes first on PATH so stage commands find `mlops`. DVC's output (the
    stages' too) goes to the log file as clean lines, never to the console; `on_line` sees each line as it comes.
    Returns DVC's stdout (clean lines). A failure raises DvcError (DvcUnreachable when the remote cannot be reached)
    with one line saying what failed. On a timeout the whole process group is killed, and the error is transient
    (retried) only when `timeout_is_transient`."""
    env = {**os.environ, "PATH": f"{venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")  # DVC's lines (and the stages') as they happen, not at exit
    command = f"dvc {' '.join(args)}"
    output = _Output(command, on_line)
    started = time.monotonic()
    watch, alive = os.pipe()  # this process holds `alive` (not inherited by any child); the reaper watches `watch`
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _REAPER, str(watch), str(venv_bin() / "dvc"), *args],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(watch,),
        )
    except BaseException:
        os.close(alive)
        raise
    finally:
        os.close(watch)
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes, as asked above
    readers = [
        threading.Thread(target=output.pump, args=(pipe, name), daemon=True, name=f"dvc-{name}")
        for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
    ]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.close(alive)  # EOF: the reaper kills the whole group
        alive = -1
        proc.wait(timeout=60)
        _join(readers)
        log.info("dvc timed out", extra={"dvc_command": command, "timeout": timeout, "cwd": str(root)})
        error = TransientError if timeout_is_transient else MlopsError
        raise error(
            f"`{command}` did not finish within {timeout:.0f}s; it and everything it started were stopped{_details()}"
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
    _join(readers)  # the reaper killed the group when dvc exited: nothing holds the pipes open any more
    elapsed = round(time.monotonic() - started, 3)
    extra = {"dvc_command": command, "exit_code": proc.returncode, "seconds": elapsed, "cwd": str(root)}
    log.info("dvc finished" if proc.returncode == 0 else "dvc failed", extra=extra)
    if proc.returncode != 0:
        everything = output.text()
        if any(marker in everything.lower() for marker in _UNREACHABLE):
            raise DvcUnreachable(
                f"`{command}` failed: the DVC remote cannot be reached: {output.summary()}{_details()}", everything
            )
        raise DvcError(f"`{command}` failed in {root}: {output.summary()}{_details()}", everything)
    return output.text("stdout")


def _join(readers: list[threading.Thread]) -> None:
    for reader in readers:
        reader.join(30)  # EOF comes when the group is gone; a bound all the same
