"""After cookiecutter wrote the files: drop what the answers turned off, write the sample data, make the project a
Git + DVC repository (S3 remote, data v1 tracked), record the template version and answers, commit."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
ROOT = Path.cwd()
SLUG = ANSWERS["project_slug"]

# files and folders that only exist for some answers
OPTIONAL = {
    "deploy/k8s": ANSWERS["serving_target"] == "eks",
    "deploy/asg": ANSWERS["serving_target"] == "asg",
    "monitoring": ANSWERS["include_drift_monitoring"] == "yes",
}


def dvc(*args: str) -> None:
    beside = Path(sys.executable).parent / "dvc"
    command = [str(beside) if beside.exists() else "dvc", *args]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"`dvc {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()}")


def main() -> None:
    import git  # gitpython

    for relative, keep in OPTIONAL.items():
        if not keep:
            shutil.rmtree(ROOT / relative, ignore_errors=True)
    if os.environ.get("MLOPS_TEMPLATE_RENDER_ONLY") == "1":  # `mlops template update` compares renders only
        return

    sys.path.insert(0, str(ROOT / "src"))
    from importlib import import_module

    features = import_module(f"{SLUG}.features")
    (ROOT / "data").mkdir(exist_ok=True)
    features.make_sample().to_csv(ROOT / "data/raw.csv", index=False)

    repo = git.Repo.init(ROOT, initial_branch="main")
    with repo.config_reader() as reader:
        has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
    if not has_identity:  # a fresh machine or CI agent: commit as the generator, the team can amend
        with repo.config_writer() as config:
            config.set_value("user", "name", "mlops new-model")
            config.set_value("user", "email", ANSWERS["owner"])

    dvc("init")
    # written directly rather than by three more `dvc remote` calls (a second each); the same INI DVC writes.
    # verify: `dvc pull` re-hashes what it downloads
    remote = f"s3://{ANSWERS['data_bucket']}/dvc/{SLUG}"
    config = f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {remote}\n    verify = true\n"
    (ROOT / ".dvc/config").write_text(config)
    if os.environ.get("AWS_ENDPOINT_URL"):  # the local stack: config.local, which Git never sees
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        (ROOT / ".dvc/config.local").write_text(f"['remote \"storage\"']\n    endpointurl = {endpoint}\n")
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
