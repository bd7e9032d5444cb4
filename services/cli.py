"""The `mlops` command. Subcommand groups live beside the code they drive and are imported only when used,
so `mlops --help` stays fast and one broken optional dependency cannot take the whole CLI down."""

from __future__ import annotations

import importlib
import sys

import click

from services.common.settings import SettingsError, get_settings

# name -> ("module:attribute", one-line help shown by `mlops --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "stack": ("services.common.stack_cli:stack", "Start, stop and inspect the local stack (moto + MLflow)."),
    "demo": ("services.demo.cli:demo", "The main job: the whole model lifecycle on the local stack."),
    "infra": ("services.infra.cli:infra", "Terraform: check, plan, apply and destroy the environments."),
    "deploy": ("pipelines.deploy.cli:deploy", "Deploy: image, canary with automatic rollback, smoke test."),
    "release": ("pipelines.release.cli:release", "GitOps releases in deploy/: show, propose, deploy, diff."),
    "jenkins": ("pipelines.jenkins_cli:jenkins", "Jenkins: trigger a job, follow its logs, show status and tests."),
    "drift": ("services.drift.cli:drift", "Data and model drift: profile, check, scheduled run, metrics exporter."),
    "serve": ("services.serving.cli:serve", "Serve an MLflow model over HTTP (MLflow-compatible, V2, metrics)."),
    "pipeline": ("pipelines.cli:pipeline", "Model project stages (prepare, train, evaluate) and register/run."),
    "promote": ("pipelines.cli:promote", "Make a model version the champion (audited)."),
    "rollback": ("pipelines.cli:rollback", "Give the champion alias back to the previous version (audited)."),
    "lineage": ("pipelines.cli:lineage", "Which data, code, params, metrics and gate decision made a model."),
    "reproduce": ("pipelines.cli:reproduce", "Retrain a model version from its commit and data; compare metrics."),
    "retrain": ("services.retraining.cli:retrain", "Retraining: one-shot, or the scheduled/drift-triggered service."),
    "new-model": ("services.generator.cli:new_model", "Stamp a new model project from the cookiecutter template."),
    "template": ("services.generator.cli:template", "Merge later template changes into a generated model project."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="r5-mlops")
def cli() -> None:
    """r5-mlops: run machine-learning models in production on AWS, or on the local stack."""


def main() -> None:
    try:
        settings = get_settings()
    except SettingsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    from services.common.logging import configure_logging
    from services.common.stack import load_stack_env

    load_stack_env(settings)  # first: the CloudWatch log handler needs the stack's endpoints
    configure_logging(settings.log_level, log_group=settings.log_group, region=settings.region)
    cli(prog_name="mlops")
