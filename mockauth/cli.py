"""The mockauth command: parse, call, print. Exit 0 on success, 2 on usage or config errors.

The group gathers the commands from the modules that hold them: serve (serve_cli.py);
token, jwks, decode (tokens_cli.py); fault, keys, clock, journal, reset, for a running server
(admin/cli.py); init, config, env, postman (setup/cli.py).
"""

from __future__ import annotations

import click

from mockauth import serve_cli, tokens_cli
from mockauth.admin import cli as cli_admin
from mockauth.setup import cli as cli_setup


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mockauth")
def main() -> None:
    """mockauth: a local mock of the Kinde authorisation server."""


for _command in (
    *serve_cli.COMMANDS,
    *tokens_cli.COMMANDS,
    *cli_admin.COMMANDS,
    *cli_setup.COMMANDS,
):
    main.add_command(_command)
