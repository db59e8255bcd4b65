"""Command line: ``python -m ib_gateway_sim --host 127.0.0.1 --port 4002`` (or the console
script ``ib-gateway-sim`` with the same options).

Options: ``--start ISO-8601`` (simulated clock start, default now; the clock then runs in real
time), ``--seed N`` (price model), ``--scenario FILE`` (JSON/YAML faults and events, see
``scenario.py``), ``--frozen`` (stop the clock at the start), ``--no-pacing``,
``--not-permissioned SYMBOL`` (repeatable), ``--expired-retention-days N`` (how long an
expired future's bars stay available, default 730), ``--truth-log PATH`` (append every
served quote and bar to a JSON-lines file, kept across restarts), ``--log-level``. Prints
``IB Gateway simulator listening on HOST:PORT ...`` once it accepts connections and runs until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from .contracts import DEFAULT_EXPIRED_RETENTION_DAYS
from .pacing import PacingLimits
from .protocol import SERVER_VERSION
from .scenario import Scenario, load_scenario
from .server import GatewaySimulator


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def build_parser(prog: str = "python -m ib_gateway_sim") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="IB Gateway simulator speaking the TWS API (server version 178).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4002, help="TCP port; 0 picks a free one")
    parser.add_argument("--start", help="simulated start time, ISO-8601 (default: now)")
    parser.add_argument("--seed", type=int, help="price model seed (default 0)")
    parser.add_argument("--scenario", help="JSON or YAML scenario file (faults, events)")
    parser.add_argument("--frozen", action="store_true", help="freeze the simulated clock")
    parser.add_argument("--no-pacing", action="store_true", help="do not enforce IB pacing")
    parser.add_argument(
        "--not-permissioned", action="append", default=[], metavar="SYMBOL",
        help="symbol without a live subscription (354); repeatable",
    )
    parser.add_argument(
        "--expired-retention-days", type=_non_negative, metavar="DAYS",
        help=f"days after its last trade an expired future keeps its bars (default "
        f"{DEFAULT_EXPIRED_RETENTION_DAYS}, IB's about two years); later requests answer 162",
    )
    parser.add_argument(
        "--truth-log", metavar="PATH",
        help="append every served quote and bar to this JSON-lines file (the ground truth)",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser


def make_simulator(args: argparse.Namespace) -> GatewaySimulator:
    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    seed = args.seed if args.seed is not None else (scenario.seed or 0)
    start = args.start or scenario.start
    frozen = args.frozen or bool(scenario.frozen)
    pacing = PacingLimits.disabled() if args.no_pacing else scenario.pacing
    if args.no_pacing:
        scenario.pacing = None
    retention = args.expired_retention_days
    if retention is None:
        retention = scenario.expired_retention_days
    return GatewaySimulator(
        args.host, args.port, start, seed, frozen=frozen,
        not_permissioned=args.not_permissioned, pacing=pacing,
        price_config=scenario.price_config(seed), scenario=scenario,
        expired_retention_days=retention, truth_log=args.truth_log,
    )


async def serve(sim: GatewaySimulator) -> None:
    await sim.start()
    print(
        f"IB Gateway simulator listening on {sim.host}:{sim.port} "
        f"(server version {SERVER_VERSION}, simulated time {sim.clock.now().isoformat()})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None, prog: str = "python -m ib_gateway_sim") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        sim = make_simulator(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(sim))
    return 0


def console_main() -> int:
    """The ``ib-gateway-sim`` console script (its usage line names the script)."""
    return main(prog="ib-gateway-sim")


if __name__ == "__main__":
    sys.exit(main())
