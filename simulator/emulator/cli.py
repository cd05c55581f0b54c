"""``email2chat emulator``: run the Genesys Cloud emulator by hand (curl, ``sam local invoke``, debugging)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from email2chat.clock import SystemClock

from simulator.emulator.emulator import GenesysEmulator

DEMO_CONVERSATION_ID = "00000000-0000-4000-8000-000000000001"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (0 picks a free one; default 8089)")
    parser.add_argument(
        "--rate-limit-per-minute", type=int, default=300, help="per-token limit (default 300)"
    )
    parser.add_argument("--client-id", default="local-client")
    parser.add_argument("--client-secret", default="local-secret")
    parser.add_argument("--token-ttl-s", type=float, default=86400, help="token lifetime (default 24 h)")
    parser.add_argument("--org-id", default="local-org")
    parser.add_argument("--seed", type=int, default=0, help="seed of generated ids and injected faults")
    parser.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="seed one demo email conversation at startup (default on)",
    )
    parser.add_argument("--print-events", action="store_true", help="print published events as JSON lines")


def run(args: argparse.Namespace) -> int:
    def print_event(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    emulator = GenesysEmulator(
        clock=SystemClock(),
        rate_limit_per_minute=args.rate_limit_per_minute,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl_s=args.token_ttl_s,
        event_sink=print_event if args.print_events else None,
        org_id=args.org_id,
        seed=args.seed,
        host=args.host,
        port=args.port,
        autotick_interval_s=0.2,  # real time: customers and agents act on their own
    )
    if args.demo:  # seeded before the URL is printed, so whoever reads the URL can read the conversation
        emulator.seed_email_conversation(
            DEMO_CONVERSATION_ID,
            subject="My card was charged twice, please help urgently",
            text_body="Hello, I was charged twice for order 1234. Please refund one of the payments today.",
            customer_id="demo-customer",
            customer_email="demo.customer@example.com",
            customer_name="Demo Customer",
            attributes={"Account_ID": "A-1001", "Product_Type": "card"},
            queue_wait_s=120,
        )
    stopped = threading.Event()
    # Both signals set the event explicitly: a background job may have inherited SIGINT as ignored.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())
    try:
        base_url = emulator.start()
    except OSError as exc:
        print(f"email2chat emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    lines = [
        f"Genesys Cloud emulator listening on {base_url}",
        f"  GENESYS_BASE_URL={base_url} GENESYS_CLIENT_ID={args.client_id} GENESYS_CLIENT_SECRET=...",
    ]
    if args.demo:
        lines += [
            f"  demo conversation: {DEMO_CONVERSATION_ID}",
            f"  try: curl -s -u {args.client_id}:{args.client_secret} -d grant_type=client_credentials "
            f"{base_url}/oauth/token",
        ]
    print("\n".join(lines), flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        emulator.stop()
        print("emulator stopped", flush=True)
    return 0
