"""Refuse bad answers before cookiecutter writes a file. `mlops new-model` runs `problems()` from this same file
before it calls cookiecutter, so one set of rules serves both entry points, and every bad answer is reported at
once."""

import json
import keyword
import re
import sys

# AWS commercial and GovCloud regions (fixed list: no network call at generation time)
AWS_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1", "ca-west-1", "eu-central-1",
    "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
    "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1", "us-gov-east-1", "us-gov-west-1",
}  # fmt: skip
# names that would shadow the platform's own packages, common libraries, Kubernetes/AWS words or the project's own
# deploy/ folders (deploy/k8s, deploy/envs: a model named like them would put its release manifests there)
RESERVED = {
    "mlops", "services", "pipelines", "templates", "tests", "test", "src", "model", "models", "data", "default",
    "kube", "kubernetes", "aws", "amazon", "sklearn", "mlflow", "dvc", "pandas", "numpy", "scipy", "serve",
    "serving", "drift", "platform", "terraform", "jenkins", "admin", "root", "system", "k8s", "envs", "wheels",
}  # fmt: skip
# a DNS label (the Kubernetes namespace, IAM role and bucket prefix) whose hyphens become underscores in the Python
# package: churn-model -> package churn_model
SLUG = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$")
CHOICES = {
    "problem_type": ("binary_classification", "multiclass_classification", "regression"),
    "model_family": ("sklearn_random_forest", "sklearn_linear"),
    "serving_target": ("eks", "asg"),
    "include_drift_monitoring": ("yes", "no"),
    "include_scheduled_retraining": ("yes", "no"),
    "platform_source": ("wheels", "path", "git", "index"),
}
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACCOUNT = re.compile(r"^\d{12}$")
GIT_URL = re.compile(r"^(https?://|ssh://|git@[^:]+:|file://)\S+$")
INDEX_URL = re.compile(r"^(https?://|file://)\S+$")
VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")  # PEP 440, the common forms


def package_of(slug: str) -> str:
    return slug.replace("-", "_")


def problems(answers: dict) -> list[str]:
    """Every wrong answer, each naming the answer and what was expected."""
    out = []
    slug = str(answers.get("project_slug", ""))
    if not SLUG.match(slug):
        out.append(
            f"project_slug {slug!r} must be 2-40 characters: lowercase letters, digits and single hyphens, starting "
            "with a letter and not ending with a hyphen (it is a DNS label; the Python package is the same with "
            "'_' for '-')"
        )
    elif (package := package_of(slug)) in RESERVED or keyword.iskeyword(package) or package in sys.stdlib_module_names:
        out.append(f"project_slug {slug!r} is reserved (a Python keyword, standard module or platform name)")
    if not str(answers.get("project_name", "")).strip():
        out.append("project_name must not be empty")
    for key, allowed in CHOICES.items():
        if key in answers and answers.get(key) not in allowed:
            out.append(f"{key} {answers.get(key)!r} must be one of {', '.join(allowed)}")
    region = answers.get("aws_region")
    if region not in AWS_REGIONS:
        out.append(f"aws_region {region!r} is not an AWS region (e.g. us-east-1, eu-west-1)")
    if "aws_account_id" in answers and not ACCOUNT.match(str(answers["aws_account_id"])):
        out.append(f"aws_account_id {answers['aws_account_id']!r} must be 12 digits")
    if not EMAIL.match(str(answers.get("owner", ""))):
        out.append(f"owner {answers.get('owner')!r} must be an e-mail address (alerts and notifications go there)")
    if not BUCKET.match(str(answers.get("data_bucket", ""))):
        out.append(f"data_bucket {answers.get('data_bucket')!r} is not a valid S3 bucket name")
    source, url = answers.get("platform_source"), str(answers.get("platform_url", "")).strip()
    version = str(answers.get("platform_version", "")).strip()
    if source == "git":
        if not GIT_URL.match(url):
            out.append(f"platform_url {url!r} must be the platform's Git URL (https://, ssh://, git@host: or file://)")
        if not version:
            out.append("platform_version must name the Git tag to install (e.g. v0.2.0)")
    elif source == "index":
        if not INDEX_URL.match(url):
            out.append(f"platform_url {url!r} must be the package index URL (https:// or file://)")
        if not VERSION.match(version):
            out.append(f"platform_version {version!r} must be the platform's package version (e.g. 0.2.0)")
    elif source == "path" and not url.startswith("/"):
        out.append(f"platform_url {url!r} must be the absolute path of the platform checkout (platform_source=path)")
    for key in ("terraform_modules_source", "kustomize_base"):
        if key in answers and not str(answers.get(key, "")).strip():
            out.append(f"{key} must not be empty")
    return out


if __name__ == "__main__":
    found = problems(json.loads(r"""{{ cookiecutter | tojson }}"""))
    if found:
        print("Invalid answers:\n  - " + "\n  - ".join(found), file=sys.stderr)
        sys.exit(1)
