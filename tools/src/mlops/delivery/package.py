"""`mlops deploy package`: the serving host's package, built from the checkout and published for the EC2 path.

An instance of an autoscaling group (terraform/modules/serving-asg) installs serving from
`s3://<artifacts bucket>/packages/serving/<version>/` and nothing else: the wheels of the workspace members serving
needs (mlops-serving and what it names in uv.lock: mlops-core), every third-party wheel pinned by uv.lock (downloaded
here, each checked against the lock's sha256), `constraints.txt` (the lock's pins), and `SHA256SUMS` (every file's
sha256, the manifest). The manifest is written last: a publish that stops half way leaves no manifest, and a version
without one is not installable (the user data stops at it). A published version is immutable: publishing it again
with other files is refused, since an instance launched later would install something else under the same name.

The wheels are for the hosts, not this machine: CPython 3.11 (serving-asg's python_binary) on glibc 2.34
(Amazon Linux 2023), x86_64. Environment markers are evaluated by pip on the machine that publishes, so publish from
Linux (the Jenkins agents).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.clients import aws_client
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.wheels.build import PARTS, build_wheels, uv_executable, wheel_of

PACKAGE_PREFIX = "packages/serving"  # serving-asg's package_prefix default
MANIFEST = "SHA256SUMS"
CONSTRAINTS = "constraints.txt"
SERVING_DISTRIBUTION = "mlops-serving"
# the hosts: Amazon Linux 2023 (glibc 2.34), CPython 3.11, x86_64 (serving-asg's instance types)
TARGET_PYTHON = "3.11"
TARGET_GLIBC_MINOR = 34
TARGET_ARCH = "x86_64"
PIP_VERSION = "26.3"  # run through `uv tool run`: mlops-tools carries no pip of its own
EXPORT_TIMEOUT_SECONDS = 120
DOWNLOAD_TIMEOUT_SECONDS = 1800
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class PackageError(MlopsError):
    """The package cannot be built or published; the message says why. Nothing is installable unless it says so."""


@dataclass(frozen=True)
class Lock:
    """What uv.lock pins for serving: the workspace members to build, and the third-party requirements."""

    members: list[str]  # distribution names
    requirements: str  # requirements.txt with the lock's sha256 of every file
    constraints: str  # the same pins without hashes, for `pip install -c`


@dataclass(frozen=True)
class Published:
    uri: str
    files: int
    size_bytes: int
    already: bool  # the same files were there already


def check_version(version: str) -> str:
    """A version is a path segment of the S3 key and a word in the user data: a commit or an image tag."""
    if not VERSION_PATTERN.fullmatch(version):
        raise PackageError(
            f"package version {version!r} is not a commit or tag: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )
    return version


def package_prefix(version: str) -> str:
    return f"{PACKAGE_PREFIX}/{check_version(version)}/"


def manifest_text(folder: Path) -> str:
    """SHA256SUMS of every file in `folder` (the format `sha256sum --check` reads), sorted by name."""
    lines = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{digest.hexdigest()}  {path.name}\n")
    return "".join(lines)


def _run(command: list[str], what: str, timeout: int, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PackageError(f"{what} took over {timeout}s") from None
    if done.returncode != 0:
        raise PackageError(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _strip_hashes(requirements: str) -> str:
    """`name==version ; marker` per line, from uv's requirements with `--hash` continuation lines."""
    joined = requirements.replace("\\\n", " ")
    pins = [re.sub(r"\s+--hash=\S+", "", line).strip() for line in joined.splitlines()]
    return "".join(f"{pin}\n" for pin in pins if pin and not pin.startswith("#"))


def export_lock(root: Path, distribution: str = SERVING_DISTRIBUTION) -> Lock:
    """What uv.lock pins for `distribution` (never re-resolved: --frozen)."""
    uv = uv_executable()
    base = [uv, "export", "--package", distribution, "--frozen", "--no-dev", "--no-editable", "--no-header",
            "--no-annotate", "--format", "requirements.txt"]  # fmt: skip
    members_text = _run([*base, "--only-emit-workspace", "--no-hashes"], "uv export (workspace members)",
                        EXPORT_TIMEOUT_SECONDS, cwd=root)  # fmt: skip
    requirements = _run([*base, "--no-emit-workspace"], "uv export", EXPORT_TIMEOUT_SECONDS, cwd=root)
    by_folder = {folder: name for name, folder in PARTS.items()}
    members = []
    for line in members_text.splitlines():
        folder = line.strip().removeprefix("./")
        if not folder or folder.startswith("#"):
            continue
        if folder not in by_folder:
            raise PackageError(f"uv export names {line.strip()!r}, which is not a workspace member this builds")
        members.append(by_folder[folder])
    if distribution not in members:
        raise PackageError(f"uv export of {distribution} does not name {distribution} itself: is uv.lock current?")
    return Lock(members=members, requirements=requirements, constraints=_strip_hashes(requirements))


def target_platforms(glibc_minor: int = TARGET_GLIBC_MINOR, arch: str = TARGET_ARCH) -> list[str]:
    """The manylinux tags a host with glibc 2.<glibc_minor> runs, newest first (pip takes exactly the ones given)."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 4, -1)]
    return [*tags, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def download_wheels(requirements: Path, dest: Path) -> None:
    """Every pinned wheel for the hosts into `dest`, each checked against the lock's sha256 (--require-hashes), no
    dependency resolved again (--no-deps: the lock is the resolution), no source build (--only-binary)."""
    platforms = [arg for tag in target_platforms() for arg in ("--platform", tag)]
    command = [
        # pip evaluates the lock's markers against the Python it runs on: run it on the hosts' Python
        uv_executable(), "tool", "run", "--python", TARGET_PYTHON, "--from", f"pip=={PIP_VERSION}", "pip", "download",
        "--no-deps", "--require-hashes", "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
        "--python-version", TARGET_PYTHON, "--implementation", "cp",
        "--abi", f"cp{TARGET_PYTHON.replace('.', '')}", *platforms,
        "--timeout", "30", "--retries", "3", "--dest", str(dest), "--requirement", str(requirements),
    ]  # fmt: skip
    _run(command, "downloading the pinned wheels (pip download)", DOWNLOAD_TIMEOUT_SECONDS)


def build_wheelhouse(root: Path, cache: Path, dest: Path, say: Callable[[str], None]) -> Lock:
    """The whole package in `dest`: member wheels, pinned third-party wheels, constraints.txt (no manifest yet)."""
    lock = export_lock(root)
    built = build_wheels(root, cache, say)
    for member in lock.members:
        shutil.copy2(wheel_of(built, member), dest)
    say(f"downloading {lock.constraints.count(chr(10))} pinned wheels for CPython {TARGET_PYTHON}, "
        f"{target_platforms()[0]}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(lock.requirements)
        download_wheels(requirements, dest)
    (dest / CONSTRAINTS).write_text(lock.constraints)
    return lock


def _error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def published_manifest(s3: Any, bucket: str, prefix: str) -> str | None:
    """The manifest of a published version, or None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(s3.get_object(Bucket=bucket, Key=prefix + MANIFEST)["Body"].read().decode())
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("NoSuchKey", "404"):
            return None
        # S3 answers a missing key with AccessDenied to a caller that may not list where it would be
        denied = code == "AccessDenied"
        hint = f" (the publisher needs s3:ListBucket on {bucket} for {PACKAGE_PREFIX}/*)" if denied else ""
        raise PackageError(f"cannot read s3://{bucket}/{prefix}{MANIFEST}: {exc}{hint}") from None
    except BotoCoreError as exc:
        raise PackageError(f"cannot read s3://{bucket}/{prefix}{MANIFEST}: {exc}") from None


def publish(s3: Any, bucket: str, version: str, folder: Path, say: Callable[[str], None]) -> Published:
    """Upload every file of `folder` under the version's prefix, then its manifest; refuse to change a version."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = package_prefix(version)
    uri = f"s3://{bucket}/{prefix}"
    manifest = manifest_text(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files)
    existing = published_manifest(s3, bucket, prefix)
    if existing == manifest:
        return Published(uri=uri, files=len(files), size_bytes=size, already=True)
    if existing is not None:
        raise PackageError(
            f"{uri} is already published with other files: a version is immutable (instances launched later would "
            "install something else under the same name); publish under a new version"
        )
    say(f"uploading {len(files)} files ({size / 1e6:.0f} MB) to {uri}, {MANIFEST} last")
    current = ""
    try:
        for path in files:
            current = path.name
            s3.upload_file(str(path), bucket, prefix + path.name)
        current = MANIFEST
        s3.put_object(Bucket=bucket, Key=prefix + MANIFEST, Body=manifest.encode(), ContentType="text/plain")
    except (ClientError, BotoCoreError) as exc:
        raise PackageError(
            f"uploading {current} to {uri} failed ({exc}); {MANIFEST} was not written, so this version is not "
            "installable: run the publish again"
        ) from None
    return Published(uri=uri, files=len(files), size_bytes=size, already=False)


def package_serving(
    settings: Settings, version: str, root: Path, say: Callable[[str], None] = lambda _: None
) -> Published:
    """Build serving's package from the checkout at `root` and publish it to settings.artifact_bucket."""
    check_version(version)
    bucket = settings.artifact_bucket
    s3 = aws_client("s3", settings)
    prefix = package_prefix(version)
    if published_manifest(s3, bucket, prefix) is not None:
        say(f"s3://{bucket}/{prefix} has a manifest already: building to compare")
    with tempfile.TemporaryDirectory(prefix="mlops-package-") as tmp:
        folder = Path(tmp)
        lock = build_wheelhouse(root, settings.state_dir / "wheels", folder, say)
        say(f"built {', '.join(lock.members)} and the lock's wheels")
        return publish(s3, bucket, version, folder, say)
