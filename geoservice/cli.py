"""The ``geoservice`` command line: one entry point, sub-commands by verb.

Errors print one readable line on stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import sys

import click

from .catalog import DataError


class UserError(click.ClickException):
    """An error the user can fix; printed as one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # one line, no "Usage:" block
        click.echo(f"geoservice: error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="geoservice")
def cli() -> None:
    """Border disputes in the former Soviet space: data, measurements, service."""


@cli.command()
@click.argument("path", required=False, type=click.Path(file_okay=False))
def validate(path: str | None) -> None:
    """Check a data directory (default: the shipped geodata/). One line per problem."""
    from .validate import validate_directory

    problems = validate_directory(path)
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    click.echo("ok: no problems found", err=True)


def main() -> None:
    """Console-script entry point: turns expected failures into one line and a non-zero exit."""
    try:
        cli.main(standalone_mode=True)
    except DataError as exc:
        click.echo(f"geoservice: error: {exc}", err=True)
        sys.exit(2)
