"""`mlops privacy erase --model NAME --key COLUMN=VALUE [--env ENV]`."""

from __future__ import annotations

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS
from mlops.core.settings import get_settings


def _subject(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from mlops.privacy.erase import EraseError, parse_key

    try:
        parse_key(value)
    except EraseError as exc:
        raise click.BadParameter(str(exc).removeprefix("--key "), ctx, param) from None
    return value


@click.group()
def privacy() -> None:
    """Data subjects' rights on the inference capture (the data classes: mlops.core.data_classes)."""


@privacy.command()
@click.option("--model", required=True, help="Registered model whose capture (and labels) hold the subject.")
@click.option("--key", "key_text", required=True, metavar="COLUMN=VALUE", callback=_subject,
              help="The subject: an input column and its value (personal columns: the value as sent; it is hashed "
                   "with the capture key first). Never written to a log or the audit record.")  # fmt: skip
@click.option("--env", type=click.Choice(ENVIRONMENTS), help="The env whose capture bucket this is (recorded).")
@friendly
def erase(model: str, key_text: str, env: str | None) -> None:
    """Remove one subject's rows from the capture and the labels, rewriting each affected object; audited."""
    from mlops.privacy.erase import erase as run_erase

    click.echo(run_erase(get_settings(), model, key_text, env).summary())
