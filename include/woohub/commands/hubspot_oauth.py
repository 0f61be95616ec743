"""``python -m woohub hubspot-oauth``: install the HubSpot OAuth app from a terminal.

    python -m woohub hubspot-oauth authorize-url --redirect-uri URL [--hubspot-conn-id ID] [--state S]
    python -m woohub hubspot-oauth exchange-code --code CODE --redirect-uri URL [--hubspot-conn-id ID]
    python -m woohub hubspot-oauth scopes

``authorize-url`` prints the install URL of the connection's OAuth app (client id in extra ``client_id``,
client secret in the password; see :mod:`woohub.hubspot.oauth`) with the scopes every DAG needs, and the
``state`` it carries (check it against the one HubSpot sends back). Open it, consent, and HubSpot redirects
to the redirect URL with ``code``: ``exchange-code`` trades it (single-use, within minutes) for tokens and
stores the refresh token, client id and ``auth_type: oauth2`` in the connection (:mod:`woohub.core.connections`),
printing where; it never prints a token. ``scopes`` prints the scopes each DAG needs. The ``/woohub``
plugin does the same from the Airflow UI (``/woohub/oauth/hubspot/authorize``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any


def _conn_id(args: argparse.Namespace) -> str:
    return args.hubspot_conn_id or os.getenv("WOOHUB_HUBSPOT_CONN_ID", "hubspot_default")


def _authorize_url(args: argparse.Namespace) -> int:
    from woohub.hubspot.oauth import OAuthApp, OAuthSetupError

    try:
        app = OAuthApp.from_connection(_conn_id(args))
    except OAuthSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    redirect_uri = args.redirect_uri or app.redirect_uri
    if not redirect_uri:
        print("error: name the redirect URL (--redirect-uri, or the connection extra redirect_uri)", file=sys.stderr)
        return 2
    state = args.state or secrets.token_urlsafe(16)
    print(app.install_url(redirect_uri, state))
    print(f"state: {state}", file=sys.stderr)
    return 0


def _exchange_code(args: argparse.Namespace) -> int:
    from woohub.hubspot.oauth import OAuthSetupError, exchange_into_connection

    conn_id = _conn_id(args)
    try:
        grant, stored_in = exchange_into_connection(conn_id, args.code, args.redirect_uri)
    except OAuthSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if stored_in is None:
        print(f"error: HubSpot answered tokens for account {grant.hub_id}, but connection {conn_id!r} could not be "
              "written (defined by an AIRFLOW_CONN_* variable or a secrets backend, or no metadata database "
              "here): nothing was stored; the code is used up, install again where the connection lives",
              file=sys.stderr)
        return 1
    print(f"stored the refresh token of HubSpot account {grant.hub_id} in connection {conn_id!r} ({stored_in}); "
          f"granted scopes: {' '.join(grant.scopes) or '(not named)'}")
    return 0


def _scopes(args: argparse.Namespace) -> int:
    from woohub.hubspot.oauth import scopes_table

    for dag_id, scope, why in scopes_table():
        print(f"{dag_id}\t{scope}\t{why}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``hubspot-oauth`` and its subcommands to ``commands`` (the root's subparsers)."""
    group = commands.add_parser("hubspot-oauth", help="install the HubSpot OAuth app into a connection")
    sub = group.add_subparsers(dest="oauth_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hubspot-conn-id", help="the HubSpot connection (default $WOOHUB_HUBSPOT_CONN_ID or "
                                                      "hubspot_default)")

    url = sub.add_parser("authorize-url", help="print the install URL (and its state on stderr)")
    common(url)
    url.add_argument("--redirect-uri", help="a redirect URL registered in the app (default: extra redirect_uri)")
    url.add_argument("--state", help="the state to carry (default: a fresh random one)")
    url.set_defaults(run=_authorize_url)

    exchange = sub.add_parser("exchange-code", help="trade the code HubSpot redirected with for tokens and store "
                                                    "them in the connection")
    common(exchange)
    exchange.add_argument("--code", required=True)
    exchange.add_argument("--redirect-uri", required=True, help="the redirect URL the install URL named")
    exchange.set_defaults(run=_exchange_code)

    table = sub.add_parser("scopes", help="the scopes each DAG needs")
    table.set_defaults(run=_scopes)


__all__ = ["add_commands"]
