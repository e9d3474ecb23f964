"""The `fakerek` command line. Flags of `serve` are generated from `config.Settings`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from fakerek import __version__, config
from fakerek.manifests import cli as manifest_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakerek", description="Local emulator of Amazon Rekognition Custom Labels."
    )
    parser.add_argument("--version", action="version", version=f"fakerek {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the server. Every flag can also be set as FAKEREK_<FLAG> in the "
        "environment; flags win.",
    )
    for name, field in config.FIELDS.items():
        default = getattr(config.Settings(), name)
        serve.add_argument(
            config.flag_name(name),
            dest=name,
            default=None,
            metavar=name.upper(),
            choices=field.metadata["choices"] or None,
            help=f"{field.metadata['help']} [{config.env_name(name)}; default {default}]",
        )
    manifest_cli.add_parser(commands)
    return parser


def serve_settings(argv: Sequence[str], environ: Mapping[str, str]) -> config.Settings:
    """The settings `fakerek serve ARGV` runs with in this environment (raises SettingError, or
    exits as argparse does on a flag it does not know)."""
    return config.from_sources(vars(build_parser().parse_args(["serve", *argv])), dict(environ))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        try:
            settings = config.from_sources(vars(args), dict(os.environ))
        except config.SettingError as error:
            print(f"fakerek: {error}", file=sys.stderr)
            return 2
        from fakerek.app.server import run

        return run(settings)
    if args.command == "manifest":
        return manifest_cli.run(args)
    return 2
