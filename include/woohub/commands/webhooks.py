"""``python -m woohub webhooks register|list``: the WooCommerce webhooks and HubSpot subscriptions woohub needs.

``register --base-url https://airflow.example.com`` makes the store deliver to
``<base>/woohub/webhooks/woocommerce`` and the HubSpot app to ``<base>/woohub/webhooks/hubspot`` (see
:mod:`woohub.webhooks.registration`; idempotent, ``--dry-run`` shows the plan). A WooCommerce connection
without ``webhook_secret`` gets a generated one stored into it; when it cannot be stored (an environment
connection) the secret is printed here, on the terminal, for you to put into the connection, and nothing is
registered. ``list`` prints what the store and the app have now.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _print_rows(system: str, rows: list[dict[str, Any]] | None, dry_run: bool) -> None:
    if rows is None:
        return
    verb = {"create": "would create" if dry_run else "created", "update": "would update" if dry_run else "updated",
            "keep": "unchanged"}
    for row in rows:
        changes = f" ({', '.join(row['changes'])})" if row["action"] == "update" else ""
        ident = f" #{row['id']}" if row.get("id") else ""
        print(f"{system:<11} {row['topic']:<40} {verb[row['action']]}{ident}{changes}")


def register(args: argparse.Namespace) -> int:
    from woohub.webhooks.registration import (
        WebhookRegistrationError,
        WebhookSecretNotStored,
        delivery_urls,
        register_all,
    )

    if not args.base_url.startswith(("http://", "https://")):
        print("--base-url must be the Airflow base URL, e.g. https://airflow.example.com", file=sys.stderr)
        return 2
    try:
        result = register_all(args.base_url, woocommerce_conn_id=args.woocommerce_conn_id,
                              hubspot_conn_id=args.hubspot_conn_id, dry_run=args.dry_run)
    except WebhookSecretNotStored as error:
        print(f"{error}.", file=sys.stderr)
        print("A new secret for that extra (shown only here; nothing was registered):", file=sys.stderr)
        print(f"    webhook_secret = {error.secret}", file=sys.stderr)
        return 2
    except WebhookRegistrationError as error:
        print(f"webhook registration failed: {error}", file=sys.stderr)
        return 1
    woo_url, hubspot_url = delivery_urls(args.base_url)
    print(f"WooCommerce deliveries -> {woo_url}")
    source = result["secret"]
    if source is not None and source.generated:
        print(f"generated a webhook_secret and stored it in {args.woocommerce_conn_id!r} ({source.stored_in})")
    _print_rows("woocommerce", result["woocommerce"], args.dry_run)
    if result["hubspot_skipped"]:
        print(f"HubSpot: skipped, {result['hubspot_skipped']}")
    else:
        print(f"HubSpot deliveries -> {hubspot_url}")
        _print_rows("hubspot", result["hubspot"], args.dry_run)
    return 0


def list_webhooks(args: argparse.Namespace) -> int:
    from woohub.hubspot import HubSpotHook
    from woohub.webhooks.registration import (
        WebhookRegistrationError,
        hubspot_app_credentials,
        list_hubspot_subscriptions,
        list_woocommerce_webhooks,
    )
    from woohub.woocommerce import WooCommerceHook

    try:
        for w in list_woocommerce_webhooks(WooCommerceHook(args.woocommerce_conn_id)):
            print(f"woocommerce #{w['id']:<5} {w['status']:<9} {w['topic']:<20} {w['delivery_url']}  {w['name']}")
        hubspot = HubSpotHook(args.hubspot_conn_id)
        credentials = hubspot_app_credentials(hubspot.extra)
        if credentials is None:
            print(f"HubSpot: connection {args.hubspot_conn_id!r} has no extra app_id and developer_api_key")
            return 0
        found = list_hubspot_subscriptions(hubspot, *credentials)
    except WebhookRegistrationError as error:
        print(f"listing webhooks failed: {error}", file=sys.stderr)
        return 1
    print(f"hubspot     target {found['targetUrl'] or '(no settings)'}")
    for s in found["subscriptions"]:
        name = f":{s['propertyName']}" if s.get("propertyName") else ""
        print(f"hubspot     #{s['id']:<5} {'active' if s['active'] else 'paused':<9} {s['eventType']}{name}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``webhooks register`` and ``webhooks list`` to ``commands`` (the root's subparsers)."""
    webhooks = commands.add_parser("webhooks", help="register or list the WooCommerce and HubSpot webhooks")
    actions = webhooks.add_subparsers(dest="action", required=True)
    for name, handler, text in (("register", register, "create or update the webhooks woohub needs"),
                                ("list", list_webhooks, "list the store's webhooks and the app's subscriptions")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--woocommerce-conn-id", default="woocommerce_default")
        action.add_argument("--hubspot-conn-id", default="hubspot_default")
        if name == "register":
            action.add_argument("--base-url", required=True,
                                help="Airflow's public base URL, e.g. https://airflow.example.com")
            action.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
        action.set_defaults(run=handler)
