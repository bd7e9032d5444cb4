"""How the server is packaged, read as Docker and systemd read the files (nothing is built or started here):

- the image: pinned base images, dependencies from the lock without the dev group, a numeric non-root user
  (Kubernetes' runAsNonRoot can only check a number), a health check on the liveness route the Kubernetes probe
  uses at the port the server listens on, and `mlops serve` as what it runs;
- the host unit: `mlops serve` from the venv the user data installs.

`systemd-analyze verify` runs in tests/integration/test_serving_systemd.py."""

from __future__ import annotations

import json
import re
import shlex
from urllib.parse import urlsplit

import pytest
import yaml

from mlops.core.paths import REPO_ROOT, SERVING_DOCKERFILE
from tests.support.mlops_cli import parse
from tests.support.systemd import SERVE_UNIT, exec_start, installed_venv

pytestmark = pytest.mark.unit
BASE_DEPLOYMENT = REPO_ROOT / "services" / "serving" / "k8s" / "base" / "deployment.yaml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, re.M)]


def _stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(text):
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def _exec_form(arguments: str) -> list[str]:
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def _env(stage) -> dict[str, str]:
    found = {}
    for instruction, arguments in stage:
        if instruction == "ENV":
            found.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return found


STAGES = _stages(SERVING_DOCKERFILE.read_text())
FINAL = STAGES[-1]


def test_every_base_image_is_pinned_to_a_release():
    bases = [arguments.split()[0] for stage in STAGES for instruction, arguments in stage if instruction == "FROM"]
    assert bases
    for base in bases:
        tag = base.partition(":")[2]
        assert "@sha256:" in base or re.match(r"\d+\.\d+\.\d+", tag), f"{base} is not pinned to a version"


def test_dependencies_come_from_the_lock_without_the_dev_group():
    syncs = [shlex.split(a) for stage in STAGES for i, a in stage if i == "RUN" and re.search(r"\buv\s+sync\b", a)]
    assert syncs, "the image installs nothing with uv sync"
    for argv in syncs:
        assert {"--frozen", "--locked"} & set(argv), f"{' '.join(argv)} may re-resolve instead of using uv.lock"
        assert "--no-dev" in argv, f"{' '.join(argv)} installs the dev group"
    copied = [a.split() for stage in STAGES for i, a in stage if i == "COPY"]
    assert any("uv.lock" in files for files in copied)


def test_the_server_runs_as_a_numeric_non_root_user():
    (user,) = [arguments for instruction, arguments in FINAL if instruction == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {user}: not a numeric non-root uid"
    assert not gid or (gid.isdigit() and int(gid) > 0)


def test_the_health_check_asks_the_liveness_route_at_the_servers_port():
    (check,) = [arguments for instruction, arguments in FINAL if instruction == "HEALTHCHECK"]
    command = _exec_form(check.split("CMD", 1)[1].strip())
    (url,) = re.findall(r"https?://[^\s'\"]+", " ".join(command))
    container = yaml.safe_load(BASE_DEPLOYMENT.read_text())["spec"]["template"]["spec"]["containers"][0]
    assert urlsplit(url).path == container["livenessProbe"]["httpGet"]["path"]
    exposed = {arguments.split("/")[0] for instruction, arguments in FINAL if instruction == "EXPOSE"}
    assert str(urlsplit(url).port) == _env(FINAL)["MLOPS_SERVE_PORT"] and exposed == {str(urlsplit(url).port)}


def test_the_image_runs_mlops_serve():
    (entrypoint,) = [arguments for instruction, arguments in FINAL if instruction == "ENTRYPOINT"]
    program, *args = _exec_form(entrypoint)
    assert program == "mlops"
    assert parse(args).name == "serve"


def test_the_host_unit_runs_mlops_serve_from_the_venv_the_user_data_installs():
    program, *args = exec_start(SERVE_UNIT.read_text())
    assert program == str(installed_venv() / "bin" / "mlops")
    assert parse(args).name == "serve"
