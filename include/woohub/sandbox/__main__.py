"""Start both sandbox APIs: ``python -m woohub.sandbox --hubspot-port 8101 --woo-port 8102``.

HubSpot:     http://127.0.0.1:<hubspot-port>   (Authorization: Bearer sandbox-token)
WooCommerce: http://127.0.0.1:<woo-port>/wp-json/wc/v3/   (consumer key ck_sandbox, secret cs_sandbox)

With ``--state FILE`` the stores are loaded from FILE when it exists and saved to it on exit (Ctrl-C or
SIGTERM), so a demo keeps its data across restarts.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from woohub.sandbox.hubspot import HubSpotApi
from woohub.sandbox.server import SandboxServer, SeedOptions
from woohub.sandbox.woocommerce import WooCommerceApi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m woohub.sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--hubspot-port", type=int, default=8101, help="0 picks a free port")
    parser.add_argument("--woo-port", type=int, default=8102, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same store")
    parser.add_argument("--customers", type=int, default=SeedOptions.customers)
    parser.add_argument("--products", type=int, default=SeedOptions.products)
    parser.add_argument("--orders", type=int, default=SeedOptions.orders)
    parser.add_argument("--empty", action="store_true", help="start with empty stores (HubSpot keeps its defaults)")
    parser.add_argument("--state", type=Path, help="load stores from this JSON file if it exists; save on exit")
    parser.add_argument("--ready-file", type=Path, help="write the bound URLs as JSON here once serving")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = SeedOptions(seed=args.seed, customers=args.customers, products=args.products,
                          orders=args.orders, empty=args.empty)
    hubspot, woo = HubSpotApi(), WooCommerceApi()
    if args.state and args.state.exists():
        saved = json.loads(args.state.read_text())
        hubspot.restore(saved["hubspot"])
        woo.restore(saved["woocommerce"])
    else:
        hubspot.reset(options)
        woo.reset(options)
    servers = [SandboxServer(hubspot, host=args.host, port=args.hubspot_port).start(),
               SandboxServer(woo, host=args.host, port=args.woo_port).start()]
    urls = {"hubspot": servers[0].url, "woocommerce": servers[1].url}
    print(f"HubSpot sandbox:     {urls['hubspot']}  (Authorization: Bearer sandbox-token)", flush=True)
    print(f"WooCommerce sandbox: {urls['woocommerce']}/wp-json/wc/v3/  (ck_sandbox / cs_sandbox)", flush=True)
    if args.ready_file:
        args.ready_file.write_text(json.dumps(urls))

    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    for server in servers:
        server.stop()
    if args.state:
        args.state.write_text(json.dumps({"hubspot": hubspot.snapshot(), "woocommerce": woo.snapshot()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
