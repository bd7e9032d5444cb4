"""`mlops new-model NAME [--no-input] [--output-dir DIR] [key=value ...]` and `mlops template update`."""

from __future__ import annotations

from pathlib import Path

import click

from mlops.scaffold.render import DEFAULT_TEMPLATE, GeneratorError


def _overrides(pairs: tuple[str, ...], keys: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="ANSWERS")
        if key not in keys or key.startswith("_"):
            allowed = ", ".join(k for k in keys if not k.startswith("_"))
            raise click.BadParameter(f"unknown answer {key!r}; the template asks for: {allowed}", param_hint="ANSWERS")
        out[key] = value
    return out


@click.command("new-model")
@click.argument("name")
@click.argument("answers", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--no-input", is_flag=True, help="Ask nothing: every answer not given is derived or its default.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the project folder (named after NAME) is created.",
)
@click.option(
    "--template",
    "template_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_TEMPLATE,
    show_default=True,
    help="Cookiecutter template folder.",
)
def new_model(name: str, answers: tuple[str, ...], no_input: bool, output_dir: Path, template_dir: Path) -> None:
    """Stamp a new model project NAME from the model-project template.

    NAME gives the slug (lowercase letters, digits and hyphens: "Churn Model" -> churn-model; the Python package is
    churn_model) and the project name. Only what cannot be derived is asked (owner, problem type, model family,
    serving target, AWS account, drift monitoring, scheduled retraining); KEY=VALUE answers anything, e.g.
    platform_source=wheels|path|git|index with platform_url and platform_version (templates/README.md). Every bad
    answer is reported at once, before anything is written.

    The project is a Git + DVC repository with sample data, params, DVC stages, tests, a Jenkinsfile, release
    manifests' policy, serving, drift, kustomize and Terraform configuration, and a locked environment (uv.lock)
    that installs the platform from the chosen source.
    """
    from mlops.core.settings import get_settings
    from mlops.scaffold.platform import checkout, derived_answers
    from mlops.scaffold.render import render, resolve_answers, slug_of, template_keys, template_version
    from mlops.wheels.build import WheelBuildError, build_wheels, uv_executable

    if not (template_dir / "cookiecutter.json").is_file():
        raise click.BadParameter(f"{template_dir} has no cookiecutter.json", param_hint="--template")
    keys = template_keys(template_dir)
    given = _overrides(answers, keys)
    slug = slug_of(name)
    settings = get_settings()
    derived = {"project_slug": slug, **({"project_name": name.strip()} if name.strip() != slug else {})}
    derived |= {k: v for k, v in (("aws_region", settings.region), ("data_bucket", settings.data_bucket),
                                  ("owner", _git_email())) if v and k in keys}  # fmt: skip
    derived |= derived_answers(keys, given, output_dir / slug)
    version = template_version(template_dir)
    overrides = {**derived, **given} | {
        "_mlops_template_commit": version.commit,
        "_mlops_template_source": version.source,
        "_mlops_template_path": version.path,
    }
    click.echo(f"[1/3] answers (template {version.path} at {version.commit[:12]})")
    if version.dirty:
        click.echo("      warning: the template has uncommitted changes; `template update` will not see them", err=True)
    try:
        resolved = resolve_answers(template_dir, overrides, no_input, ask=_ask)
    except GeneratorError as exc:
        raise click.UsageError(str(exc)) from None
    target = output_dir / resolved["project_slug"]
    if target.exists():
        raise click.UsageError(f"{target} already exists; choose another NAME or --output-dir")
    hook_env = {}
    source = resolved.get("platform_source")
    if source == "wheels":
        root = checkout()
        if root is None:
            raise click.UsageError(
                "platform_source=wheels builds the platform's wheels from its checkout, and this `mlops` is not "
                "installed from one: pass platform_source=git or index (with platform_url and platform_version)"
            )
        try:
            hook_env["MLOPS_TEMPLATE_WHEELS"] = str(build_wheels(root, settings.state_dir / "wheels", _say))
        except WheelBuildError as exc:
            raise click.ClickException(str(exc)) from None
    if source is not None:
        hook_env["MLOPS_UV"] = uv_executable()
    remote = f"s3://{resolved['data_bucket']}/dvc/{resolved['project_slug']}"
    click.echo(f"[2/3] rendering {target}: sample data, Git, DVC remote {remote}, the environment locked (uv.lock)")
    try:
        project = render(template_dir, resolved, output_dir, hook_env=hook_env)
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"[3/3] done: {project} (the platform from {source or 'the template default'})")
    click.echo(f"next: cd {project} && make test   (then README.md: First steps)")


def _say(message: str) -> None:
    click.echo(f"      {message} ...")


def _ask(key: str, default: object) -> object:
    label = key.replace("_", " ")
    if isinstance(default, list):
        return click.prompt(f"  {label}", default=default[0], type=click.Choice([str(c) for c in default]))
    return click.prompt(f"  {label}", default=default)


def _git_email() -> str | None:
    """The user's Git e-mail: the natural owner of a project they create."""
    import subprocess

    try:
        done = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


@click.group()
def template() -> None:
    """Keep a generated model project in step with its template."""


@template.command()
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The generated project.",
)
@click.option("--source", help="Template Git repository (default: the one recorded in .mlops-template.json).")
@click.option("--ref", default="HEAD", show_default=True, help="Template commit, branch or tag to update to.")
def update(project_dir: Path, source: str | None, ref: str) -> None:
    """Merge the template's changes since this project was generated into it (3-way; conflicts are reported,
    local edits are never dropped). Leaves the result uncommitted for review: `git diff`, then commit."""
    from mlops.scaffold.update import update as do_update

    try:
        result = do_update(project_dir, source, ref)
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from None
    if result.old == result.new:
        click.echo(f"already at template commit {result.new[:12]}; nothing to do")
        return
    click.echo(f"template {result.old[:12]} -> {result.new[:12]}")
    for label, names in (("updated", result.updated), ("added", result.added), ("removed", result.removed),
                         ("merged", result.merged), ("kept", result.kept), ("CONFLICT", result.conflicts)):  # fmt: skip
        for name in names:
            click.echo(f"  {label:8} {name}")
    if result.conflicts:
        raise click.ClickException(
            f"{len(result.conflicts)} conflict(s): resolve the <<<<<<< markers in {', '.join(result.conflicts)}, "
            "review with `git diff`, then commit"
        )
    click.echo("review with `git diff`, then commit")
