"""The ``cantor`` command. Thin: it parses arguments, calls the library, and turns errors into one line."""

from __future__ import annotations

import sys

import typer

from cantor import __version__
from cantor.cli.analyze import analyze
from cantor.cli.data import data_app
from cantor.cli.generate import generate_app
from cantor.cli.models import models
from cantor.cli.separate import separate
from cantor.cli.serve import serve
from cantor.cli.train import train_app
from cantor.cli.vocode import vocode
from cantor.errors import CantorError

app = typer.Typer(
    name="cantor",
    help="Take music apart and make new music with deep learning, on a CPU.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(generate_app, name="generate")
app.command("separate")(separate)
app.command("models")(models)
app.command("vocode")(vocode)
app.command("analyze")(analyze)
app.command("serve")(serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cantor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Cantor: labelled multitrack data, separation, vocoders, analysis and generation."""


def main(argv: list[str] | None = None) -> None:
    """Entry point. Exit 0 on success, 1 on a runtime error, 2 on a usage error; never a traceback for either.

    Typer handles usage errors itself (exit 2); Cantor's own errors are caught here and printed as one line.
    """
    try:
        app(args=argv, prog_name="cantor")
    except CantorError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
