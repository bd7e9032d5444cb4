"""`mlops jenkins trigger|status|logs`: drive a Jenkins job from a laptop or another pipeline, with jenkinsapi.

Credentials come from MLOPS_JENKINS_URL, MLOPS_JENKINS_USER and MLOPS_JENKINS_API_TOKEN (settings), never from
arguments, so they do not end up in shell history or process lists.
"""

from __future__ import annotations

import sys
import time

import click

from mlops.core.settings import get_settings


def _connect():
    from jenkinsapi.jenkins import Jenkins
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import HTTPError

    settings = get_settings()
    missing = [
        name
        for name, value in (
            ("MLOPS_JENKINS_URL", settings.jenkins_url),
            ("MLOPS_JENKINS_USER", settings.jenkins_user),
            ("MLOPS_JENKINS_API_TOKEN", settings.jenkins_api_token),
        )
        if not value
    ]
    if missing:
        raise click.ClickException(f"missing Jenkins credentials: set {', '.join(missing)} in the environment")
    try:
        return Jenkins(
            settings.jenkins_url,
            username=settings.jenkins_user,
            password=settings.jenkins_api_token.get_secret_value(),
            timeout=30,
        )
    except HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        hint = " (check MLOPS_JENKINS_USER and MLOPS_JENKINS_API_TOKEN)" if status in (401, 403) else ""
        raise click.ClickException(f"Jenkins at {settings.jenkins_url} answered HTTP {status}{hint}") from None
    except RequestsConnectionError:
        raise click.ClickException(f"cannot reach Jenkins at {settings.jenkins_url}") from None


def _job(server, name: str):
    from jenkinsapi.custom_exceptions import UnknownJob

    try:
        return server.get_job(name)
    except UnknownJob:
        raise click.ClickException(f"Jenkins has no job named {name!r}") from None


def _build(job, number: int | None):
    from jenkinsapi.custom_exceptions import NoBuildData, NotFound

    try:
        return job.get_build(number) if number else job.get_last_build()
    except NoBuildData:  # before NotFound: it is one
        raise click.ClickException(f"{job.name} has not been built yet") from None
    except (NotFound, KeyError):
        raise click.ClickException(f"{job.name} has no build #{number}") from None


def _parameter(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint="--param")
    return name, setting


def _test_summary(build) -> str:
    actions = build.get_actions()
    if "totalCount" not in actions:
        return "tests: no report published"
    total, failed, skipped = actions["totalCount"], actions.get("failCount", 0), actions.get("skipCount", 0)
    line = f"tests: {total - failed - skipped} passed, {failed} failed, {skipped} skipped"
    if failed:
        failing = [name for name, result in build.get_resultset().items() if result.status in ("FAILED", "REGRESSION")]
        line += "".join(f"\n  FAILED {name}" for name in failing)
    return line


def _follow(build, interval: float) -> None:
    for chunk in build.stream_logs(interval=interval):
        click.echo(chunk, nl=False)
    while build.is_running():  # the log can end a moment before the build does
        time.sleep(interval)


def _finish(build) -> None:
    build.poll()
    status = build.get_status()
    click.echo(f"{build.job.name} #{build.get_number()}: {status}")
    click.echo(_test_summary(build))
    if status != "SUCCESS":
        sys.exit(1)


@click.group()
def jenkins() -> None:
    """Trigger a Jenkins job, follow it, show its status and test report (MLOPS_JENKINS_* credentials)."""


@jenkins.command()
@click.argument("job_name")
@click.option("-p", "--param", "params", multiple=True, help="Build parameter NAME=VALUE (repeatable).")
@click.option("--follow/--no-follow", default=True, help="Stream the console and wait for the result.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
def trigger(job_name, params, follow, interval) -> None:
    """Start JOB_NAME with parameters; with --follow, stream its console and exit with its result."""
    parameters = dict(_parameter(p) for p in params)
    job = _job(_connect(), job_name)
    if parameters and not job.has_params():
        raise click.BadParameter(f"job {job_name!r} takes no parameters", param_hint="--param")
    queue_item = job.invoke(build_params=parameters or None)
    click.echo(f"{job_name}: queued")
    if not follow:
        return
    build = queue_item.block_until_building(delay=interval)
    click.echo(f"{job_name} #{build.get_number()}: started {build.get_build_url()}")
    _follow(build, interval)
    _finish(build)


@jenkins.command()
@click.argument("job_name")
@click.option("--build", "number", type=click.IntRange(min=1), help="Build number (default: the last build).")
def status(job_name, number) -> None:
    """Result and test report summary of a build. Exits 1 unless it succeeded."""
    build = _build(_job(_connect(), job_name), number)
    if build.is_running():
        click.echo(f"{job_name} #{build.get_number()}: RUNNING")
        return
    _finish(build)


@jenkins.command()
@click.argument("job_name")
@click.option("--build", "number", type=click.IntRange(min=1), help="Build number (default: the last build).")
@click.option("--follow/--no-follow", default=False, help="Keep streaming until the build ends.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls when following.")
def logs(job_name, number, follow, interval) -> None:
    """Console output of a build."""
    build = _build(_job(_connect(), job_name), number)
    if follow:
        _follow(build, interval)
    else:
        click.echo(build.get_console(), nl=False)
