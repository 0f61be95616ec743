"""The subcommands of ``python -m woohub`` beyond dead letters and retention, one module per area; each
module has ``add_commands(commands)`` that adds its parsers to the root's subparsers, each parser with a
``run`` default taking the parsed arguments and returning the exit code. :mod:`woohub.cli` wires them."""

#: the modules :func:`woohub.cli.parser` asks to add their commands, in help order
COMMAND_MODULES = (
    "woohub.commands.webhooks",
    "woohub.commands.hubspot_oauth",
    "woohub.commands.personal_data",
)
