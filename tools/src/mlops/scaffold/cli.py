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
@click.option("--no-input", is_flag=True, help="Take the defaults for every answer not given as KEY=VALUE.")
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
    """Stamp a new model project NAME (its slug: lowercase letters and digits) from the model-project template.

    It is a Git + DVC repository with sample data, params, DVC stages, tests, a Jenkinsfile, serving, drift,
    kustomize and Terraform configuration, ready for `dvc repro`.
    """
    from mlops.scaffold.render import render, resolve_answers, template_keys, template_version

    if not (template_dir / "cookiecutter.json").is_file():
        raise click.BadParameter(f"{template_dir} has no cookiecutter.json", param_hint="--template")
    overrides = {"project_slug": name, **_overrides(answers, template_keys(template_dir))}
    version = template_version(template_dir)
    overrides |= {
        "_mlops_template_commit": version.commit,
        "_mlops_template_source": version.source,
        "_mlops_template_path": version.path,
    }
    click.echo(f"[1/3] answers (template {version.path} at {version.commit[:12]})")
    if version.dirty:
        click.echo("      warning: the template has uncommitted changes; `template update` will not see them", err=True)
    try:
        resolved = resolve_answers(template_dir, overrides, no_input)
    except GeneratorError as exc:
        raise click.UsageError(str(exc)) from None
    target = output_dir / resolved["project_slug"]
    if target.exists():
        raise click.UsageError(f"{target} already exists; choose another NAME or --output-dir")
    remote = f"s3://{resolved['data_bucket']}/dvc/{resolved['project_slug']}"
    click.echo(f"[2/3] rendering {target} (sample data, Git, DVC remote {remote})")
    try:
        project = render(template_dir, resolved, output_dir)
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"[3/3] done: {project}")
    click.echo(f"next: cd {project} && make test && dvc push && dvc repro && mlops pipeline register --project .")


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
