"""After cookiecutter wrote the files: drop what the answers turned off, write the sample data, make the project a
Git + DVC repository (S3 remote, data v1 tracked), put the platform's wheels in (platform_source=wheels), lock the
project's environment with uv, record the template version and answers, commit.

`mlops new-model` passes what only it knows through the environment: MLOPS_TEMPLATE_WHEELS (a folder with the
platform's wheels, built from the checkout) and MLOPS_UV (the uv executable)."""

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
ROOT = Path.cwd()
SLUG = ANSWERS["project_slug"]
PACKAGE = SLUG.replace("-", "_")

# files and folders that only exist for some answers
OPTIONAL = {
    "deploy/k8s": ANSWERS["serving_target"] == "eks",
    "monitoring": ANSWERS["include_drift_monitoring"] == "yes",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run(command: list[str], what: str, env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env or os.environ, check=False)
    if done.returncode != 0:
        sys.exit(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def dvc(*args: str) -> None:
    beside = Path(sys.executable).parent / "dvc"
    command = [str(beside) if beside.exists() else "dvc", *args]
    run(command, f"`dvc {' '.join(args)}`", {**os.environ, "DVC_NO_ANALYTICS": "1"})


def dvc_local_config() -> str:
    """The local stack's endpoint and its (moto, not secret) credentials for the remote, in config.local, which Git
    never sees: plain `dvc push` then finds the stack from this directory. Real AWS: nothing (the credential chain)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint:
        return ""
    lines = ["['remote \"storage\"']", f"    endpointurl = {endpoint}"]
    if urllib.parse.urlsplit(endpoint).hostname in LOOPBACK:
        for key, env in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY")):
            if os.environ.get(env):
                lines.append(f"    {key} = {os.environ[env]}")
    return "\n".join(lines) + "\n"


def platform_wheels() -> None:
    """platform_source=wheels: the platform's parts as wheel files inside the project (committed, a few hundred
    KB), so `uv sync` installs exactly them on any machine, with no Git host or package index."""
    source = os.environ.get("MLOPS_TEMPLATE_WHEELS")
    if not source or not Path(source).is_dir():
        sys.exit("platform_source=wheels needs the platform's wheels: generate with `mlops new-model` "
                 "(it builds them from the platform checkout), or choose platform_source=git or index")  # fmt: skip
    target = ROOT / "wheels"
    target.mkdir(exist_ok=True)
    for wheel in sorted(Path(source).glob("mlops_*.whl")):
        shutil.copy(wheel, target / wheel.name)


def lock() -> None:
    """uv.lock: every package of the project's environment pinned with its hash. From uv's cache when it has
    everything (no network, well under a second), else from the indexes."""
    uv = os.environ.get("MLOPS_UV") or shutil.which("uv")
    if not uv:
        sys.exit("uv is needed to lock the project's environment: `python3 -m pip install uv`, then generate again")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    env["UV_NO_PROGRESS"] = "1"
    offline = subprocess.run([uv, "lock", "--offline", "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env,
                             check=False)  # fmt: skip
    if offline.returncode != 0:
        run([uv, "lock", "--quiet"], "`uv lock`", env)


def main() -> None:
    import git  # gitpython

    for relative, keep in OPTIONAL.items():
        if not keep:
            shutil.rmtree(ROOT / relative, ignore_errors=True)
    if os.environ.get("MLOPS_TEMPLATE_RENDER_ONLY") == "1":  # `mlops template update` compares renders only
        return

    sys.path.insert(0, str(ROOT / "src"))
    from importlib import import_module

    features = import_module(f"{PACKAGE}.features")
    (ROOT / "data").mkdir(exist_ok=True)
    features.make_sample().to_csv(ROOT / "data/raw.csv", index=False)

    if ANSWERS["platform_source"] == "wheels":
        platform_wheels()
    lock()

    repo = git.Repo.init(ROOT, initial_branch="main")
    with repo.config_reader() as reader:
        has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
    if not has_identity:  # a fresh machine or CI agent: commit as the generator, the team can amend
        with repo.config_writer() as config:
            config.set_value("user", "name", "mlops new-model")
            config.set_value("user", "email", ANSWERS["owner"])

    dvc("init")
    # the stages depend on src/<package>: Python's bytecode caches there must not count as a code change
    (ROOT / ".dvcignore").write_text("# what DVC leaves out when it hashes a directory\n__pycache__/\n*.pyc\n")
    # written directly rather than by three more `dvc remote` calls (a second each); the same INI DVC writes.
    # verify: `dvc pull` re-hashes what it downloads
    remote = f"s3://{ANSWERS['data_bucket']}/dvc/{SLUG}"
    config = (
        "[core]\n    remote = storage\n    analytics = false\n"
        f"['remote \"storage\"']\n    url = {remote}\n    verify = true\n"
    )
    (ROOT / ".dvc/config").write_text(config)
    local = dvc_local_config()
    if local:
        (ROOT / ".dvc/config.local").write_text(local)
    dvc("add", "data/raw.csv")

    record = {
        "template": "model-project",
        "source": ANSWERS.get("_mlops_template_source", ""),
        "path": ANSWERS.get("_mlops_template_path", "templates/model-project"),
        "commit": ANSWERS.get("_mlops_template_commit", "unknown"),
        "answers": {k: v for k, v in ANSWERS.items() if not k.startswith("_")},
    }
    (ROOT / ".mlops-template.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")

    repo.git.add(all=True)
    repo.index.commit(f"{ANSWERS['project_name']}: generated from the r5-mlops model-project template")


if __name__ == "__main__":
    main()
