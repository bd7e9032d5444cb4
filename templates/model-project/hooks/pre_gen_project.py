"""Refuse bad answers before cookiecutter writes a file. `mlops new-model` runs `problems()` from this same file
before it calls cookiecutter, so one set of rules serves both entry points."""

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
# names that would shadow the platform's own packages, common libraries or Kubernetes/AWS words
RESERVED = {
    "mlops", "services", "pipelines", "templates", "tests", "test", "src", "model", "models", "data", "default",
    "kube", "kubernetes", "aws", "amazon", "sklearn", "mlflow", "dvc", "pandas", "numpy", "scipy", "serve",
    "serving", "drift", "platform", "terraform", "jenkins", "admin", "root", "system",
}  # fmt: skip
SLUG = re.compile(r"^[a-z][a-z0-9]{1,39}$")  # a Python identifier and a DNS label at once: no '_' and no '-'
CHOICES = {
    "problem_type": ("binary_classification", "multiclass_classification", "regression"),
    "model_family": ("sklearn_random_forest", "sklearn_linear"),
    "serving_target": ("eks", "asg"),
    "include_drift_monitoring": ("yes", "no"),
    "include_scheduled_retraining": ("yes", "no"),
}
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def problems(answers: dict) -> list[str]:
    """Every wrong answer, each naming the answer and what was expected."""
    out = []
    slug = str(answers.get("project_slug", ""))
    if not SLUG.match(slug):
        out.append(
            f"project_slug {slug!r} must be 2-40 characters, lowercase letters and digits, starting with a letter "
            "(it is the Python package name and a DNS label, so neither '_' nor '-')"
        )
    elif slug in RESERVED or keyword.iskeyword(slug) or slug in sys.stdlib_module_names:
        out.append(f"project_slug {slug!r} is reserved (a Python keyword, standard module or platform name)")
    if not str(answers.get("project_name", "")).strip():
        out.append("project_name must not be empty")
    for key, allowed in CHOICES.items():
        if answers.get(key) not in allowed:
            out.append(f"{key} {answers.get(key)!r} must be one of {', '.join(allowed)}")
    region = answers.get("aws_region")
    if region not in AWS_REGIONS:
        out.append(f"aws_region {region!r} is not an AWS region (e.g. us-east-1, eu-west-1)")
    if not EMAIL.match(str(answers.get("owner", ""))):
        out.append(f"owner {answers.get('owner')!r} must be an e-mail address (alerts and notifications go there)")
    if not BUCKET.match(str(answers.get("data_bucket", ""))):
        out.append(f"data_bucket {answers.get('data_bucket')!r} is not a valid S3 bucket name")
    for key in ("terraform_modules_source", "kustomize_base"):
        if not str(answers.get(key, "")).strip():
            out.append(f"{key} must not be empty")
    return out


if __name__ == "__main__":
    found = problems(json.loads(r"""{{ cookiecutter | tojson }}"""))
    if found:
        print("Invalid answers:\n  - " + "\n  - ".join(found), file=sys.stderr)
        sys.exit(1)
