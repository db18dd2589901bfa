"""Command-line interface (Typer) over the library API."""
