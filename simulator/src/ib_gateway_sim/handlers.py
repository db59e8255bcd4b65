"""Request handlers, one coroutine per message the simulator serves (names = journal kinds).

Field layouts follow ib_async 2.1.0's ``client.py`` at server version 178 (docs/ib-protocol.md
section 2). Each handler reads its fields, records ``req_id``/``symbol`` on the journal entry,
passes the fault gate, and answers.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .faults import error_message
from .history import (
    HistoricalError,
    HistoricalRequest,
    no_data,
    plan_historical,
    render_historical,
)
from .journal import JournalEntry
from .market_data import Tick, reported_type, ticks_for
from .pacing import PACING_VIOLATION
from .protocol import Fields

if TYPE_CHECKING:
    from .bars import Bar
    from .client_connection import ClientConnection
    from .contracts import ContractRequest, SimContract

NOT_SUBSCRIBED = "Requested market data is not subscribed. Delayed market data is available."


class RequestHandlers:
    """The served requests of one session."""

    def __init__(self, session: ClientConnection) -> None:
        self.s = session
        self.streams: dict[int, asyncio.Task[None]] = {}
        self.cancelled_historical: set[int] = set()

    # -- startup -----------------------------------------------------------------------------
    def start_api(self, f: Fields, entry: JournalEntry) -> None:
        s = self.s
        f.skip()  # version 2
        client_id = f.read_int()
        if s.sim.client_id_in_use(client_id, s):
            # IB answers 326 and closes; ib_async then waits for its connect timeout.
            entry.outcome = "error 326"
            s.error(-1, 326, error_message(326))
            s.spawn(s._close_soon())
            return
        s.client_id = client_id
        entry.client_id = client_id
        s.started = True
        s.sim.register_client(client_id, s)
        decision = s.sim.faults.decide("connect", None, client_id)
        if decision.action == "hang":
            entry.outcome = "hung"  # no 15/9: ib_async's connect() times out
            return
        if decision.action == "drop":
            entry.outcome = "dropped"
            s.close()
            return
        if decision.action == "error" and decision.code is not None:
            entry.outcome = f"error {decision.code}"
            s.error(-1, decision.code, decision.message)
            s.spawn(s._close_soon())
            return
        s.send([15, 1, ",".join(s.sim.accounts)])
        s.send([9, 1, s.sim.next_order_id])
        for code in (2104, 2106, 2158):
            s.error(-1, code)
        entry.outcome = "answered"

    async def positions(self, f: Fields, entry: JournalEntry) -> None:
        if await self.s.gate("positions", None, entry):
            self.s.send([62, 1])

    async def open_orders(self, f: Fields, entry: JournalEntry) -> None:
        if await self.s.gate("open_orders", None, entry):
            self.s.send([53, 1])

    async def completed_orders(self, f: Fields, entry: JournalEntry) -> None:
        if await self.s.gate("completed_orders", None, entry):
            self.s.send([102])  # no version field

    async def account_updates(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()  # version
        subscribe = f.read_bool()
        account = f.read_str()
        if not subscribe or not await self.s.gate("account_updates", None, entry):
            return
        self.s.send([6, 2, "NetLiquidation", "1000000.00", "USD", account])
        self.s.send([8, 1, f"{self.s.now().astimezone(self.s.sim.bar_zone):%H:%M}"])
        self.s.send([54, 1, account])

    async def account_updates_multi(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()
        entry.req_id = f.read_int()
        if await self.s.gate("account_updates_multi", None, entry):
            self.s.send([74, 1, entry.req_id])

    async def cancel_account_updates_multi(self, f: Fields, entry: JournalEntry) -> None:
        return None

    async def executions(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()
        entry.req_id = f.read_int()
        if await self.s.gate("executions", None, entry):
            self.s.send([55, 1, entry.req_id])

    async def ids(self, f: Fields, entry: JournalEntry) -> None:
        self.s.send([9, 1, self.s.sim.next_order_id])

    async def auto_open_orders(self, f: Fields, entry: JournalEntry) -> None:
        return None

    async def managed_accounts(self, f: Fields, entry: JournalEntry) -> None:
        self.s.send([15, 1, ",".join(self.s.sim.accounts)])

    async def account_summary(self, f: Fields, entry: JournalEntry) -> None:
        # ib_async requests this by itself after a 1102 notice.
        f.skip()
        entry.req_id = req_id = f.read_int()
        if not await self.s.gate("account_summary", None, entry):
            return
        for account in self.s.sim.accounts:
            self.s.send([63, 1, req_id, account, "NetLiquidation", "1000000.00", "USD"])
        self.s.send([64, 1, req_id])

    async def cancel_account_summary(self, f: Fields, entry: JournalEntry) -> None:
        return None

    async def cancel_positions(self, f: Fields, entry: JournalEntry) -> None:
        return None

    async def current_time(self, f: Fields, entry: JournalEntry) -> None:
        if await self.s.gate("current_time", None, entry):
            self.s.send([49, 1, int(self.s.now().timestamp())])

    async def market_data_type(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()
        value = f.read_int()
        if value not in (1, 2, 3, 4):
            raise ValueError(f"market data type {value} is not 1..4")
        self.s.market_data_type = value

    # -- contracts ---------------------------------------------------------------------------
    async def contract_details(self, f: Fields, entry: JournalEntry) -> None:
        s = self.s
        f.skip()  # version 8
        entry.req_id = req_id = f.read_int()
        req = s.read_contract(f)
        req.include_expired = f.read_bool()
        entry.symbol = s.symbol_of(req)
        if not await s.gate("contract_details", entry.symbol, entry):
            return
        res = s.sim.book.resolve(req, s.now())
        if not res.found:
            entry.outcome = "error 200"
            s.error(req_id, 200, error_message(200))
            return
        s.contract_details(req_id, res)

    async def head_timestamp(self, f: Fields, entry: JournalEntry) -> None:
        s = self.s
        entry.req_id = req_id = f.read_int()
        req = s.read_contract(f)
        req.include_expired = f.read_bool()
        f.read_bool()  # useRTH
        what = f.read_str().upper() or "TRADES"
        entry.symbol = s.symbol_of(req)
        if not await s.gate("head_timestamp", entry.symbol, entry):
            return
        found = s.resolve_single(req, req_id, entry)
        if found is None:
            return
        contract, _ = found
        if not s.sim.book.has_history(contract, s.now()):
            # Beyond retention HMDS has nothing for the contract, so it has no first bar either.
            error = no_data(contract, what)
            entry.outcome = f"error {error.code}"
            entry.detail = error.message
            s.error(req_id, error.code, error.message)
            return
        if contract.month is not None:
            # Quarterly index futures list about 15 months before expiry.
            head = contract.month.expiry - timedelta(days=456)
            stamp = f"{head:%Y%m%d}-23:00:00"
        else:
            stamp = {"SPY": "19930129-14:30:00", "QQQ": "19990310-14:30:00"}.get(
                contract.symbol, "20000526-13:30:00"
            )
        s.send([88, req_id, stamp])

    async def cancel_head_timestamp(self, f: Fields, entry: JournalEntry) -> None:
        return None

    # -- market data -------------------------------------------------------------------------
    async def market_data(self, f: Fields, entry: JournalEntry) -> None:
        s = self.s
        f.skip()  # version 11
        entry.req_id = req_id = f.read_int()
        req = s.read_contract(f)
        if req.sec_type.upper() == "BAG":
            f.skip(4 * f.read_int())
        if f.read_bool():  # delta-neutral contract
            f.skip(3)
        f.read_str()  # genericTickList
        snapshot = f.read_bool()
        entry.symbol = s.symbol_of(req)
        if snapshot:
            entry.name = "snapshot"
        if not await s.gate(entry.name, entry.symbol, entry):
            return
        found = s.resolve_single(req, req_id, entry)
        if found is None:
            return
        contract, res = found
        if res.sec_type == "CONTFUT":
            # IB serves CONTFUT for contract details and history only, not for market data.
            entry.outcome = "error 200"
            s.error(req_id, 200, error_message(200))
            return
        effective = self._effective_type(contract, req_id, entry)
        if effective is None:
            return
        now = s.now()
        s.send([81, req_id, contract.spec.min_tick, "9c0001", 3])
        s.send([58, 1, req_id, reported_type(contract, now, effective)])
        ticks = ticks_for(s.sim.model, contract, now, effective)
        for tick in ticks:
            s.send(tick.message(req_id))
        self._served(contract, now, effective, entry.name, ticks)
        if snapshot:
            s.send([57, 1, req_id])
            return
        task = asyncio.ensure_future(self._stream(req_id, contract, effective, ticks))
        self.streams[req_id] = task
        s.tasks.add(task)
        task.add_done_callback(s.tasks.discard)

    def _effective_type(self, contract: SimContract, req_id: int, entry: JournalEntry) -> int | None:
        """Apply permissions: 354 for live without a subscription, delayed with 10167."""
        s = self.s
        requested = s.market_data_type
        permitted = s.sim.is_permissioned(contract.symbol)
        if requested in (1, 2):
            if not permitted:
                entry.outcome = "error 354"
                s.error(req_id, 354, NOT_SUBSCRIBED)
                return None
            return requested
        if permitted:
            # IB sends live data to a subscriber even when delayed data was asked for.
            return 1 if requested == 3 else 2
        s.error(req_id, 10167, error_message(10167))
        return requested

    async def _stream(self, req_id: int, contract: SimContract, data_type: int, initial: list[Tick]) -> None:
        s = self.s
        sent = {t.tick_type: (t.value, t.size) for t in initial}
        while not s.closed:
            await asyncio.sleep(s.sim.stream_interval)
            now = s.now()
            changed = []
            for tick in ticks_for(s.sim.model, contract, now, data_type):
                if sent.get(tick.tick_type) != (tick.value, tick.size):
                    sent[tick.tick_type] = (tick.value, tick.size)
                    s.send(tick.message(req_id))
                    changed.append(tick)
            if changed:
                self._served(contract, now, data_type, "market_data", changed)

    def _served(
        self, contract: SimContract, now: datetime, data_type: int, request: str, ticks: list[Tick]
    ) -> None:
        """Log what a quote request was served to the ground truth, when the simulator keeps one."""
        truth = self.s.sim.truth
        if truth is not None:
            truth.quote(sim_time=now, contract=contract, data_type=data_type, request=request,
                        client_id=self.s.client_id, ticks=ticks)  # fmt: skip

    async def cancel_market_data(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()
        entry.req_id = f.read_int()
        task = self.streams.pop(entry.req_id, None)
        if task is not None:
            task.cancel()

    # -- history -----------------------------------------------------------------------------
    async def historical_data(self, f: Fields, entry: JournalEntry) -> None:
        s = self.s
        entry.req_id = req_id = f.read_int()  # no version field at 178
        req = s.read_contract(f)
        req.include_expired = f.read_bool()
        request = self._read_historical(f, req)
        entry.symbol = s.symbol_of(req)
        if not await s.gate("historical_data", entry.symbol, entry):
            return
        found = s.resolve_single(req, req_id, entry)
        if found is None:
            return
        contract, res = found
        if not s.sim.is_permissioned(contract.symbol):
            entry.outcome = "error 162"
            s.error(req_id, 162, "Historical Market Data Service error message:No market data "
                    f"permissions for {res.exchange} {contract.sec_type}")
            return
        try:
            message = self._answer_historical(contract, res.sec_type, res.exchange, request, req_id, entry)
        except HistoricalError as exc:
            entry.outcome = f"error {exc.code}"
            entry.detail = entry.detail or exc.message
            s.error(req_id, exc.code, exc.message)
            return
        if req_id in self.cancelled_historical:
            entry.outcome = "cancelled"
            return
        s.send(message)

    def _answer_historical(
        self, contract: SimContract, sec_type: str, exchange: str, request: HistoricalRequest,
        req_id: int, entry: JournalEntry,
    ) -> list[object]:
        """Validate, pace and build one request in IB's order; raises :class:`HistoricalError`."""
        s = self.s
        now = s.now()
        plan = plan_historical(contract, request, now, s.sim.bar_zone)
        violation = s.sim.pacer.admit(
            (contract.con_id, sec_type, request.end, request.bar_size, request.duration,
             request.use_rth, plan.what, request.format_date),
            (contract.con_id, exchange, plan.what),
            plan.pacing_weight,
        )
        if violation:
            entry.detail = violation
            raise HistoricalError(162, PACING_VIOLATION)
        # The retention check comes after pacing: the query reaches HMDS (and counts) before
        # HMDS finds nothing.
        truth = s.sim.truth
        served = None
        if truth is not None:
            def served(bars: list[Bar]) -> None:
                truth.bars(sim_time=now, contract=contract, what=plan.what,
                           bar_seconds=plan.bar_seconds, bars=bars)  # fmt: skip
        return render_historical(
            s.sim.model, contract, plan, request, s.sim.bar_zone, req_id,
            retained=s.sim.book.has_history(contract, now), served=served,
        )

    def _read_historical(self, f: Fields, req: ContractRequest) -> HistoricalRequest:
        end = f.read_str()
        bar_size = f.read_str()
        duration = f.read_str()
        use_rth = f.read_bool()
        what = f.read_str()
        format_date = f.read_int(1)
        if req.sec_type.upper() == "BAG":
            f.skip(4 * f.read_int())
        return HistoricalRequest(
            end, bar_size, duration, use_rth, what, format_date,
            is_contfut=req.sec_type.upper() == "CONTFUT",
        )

    async def cancel_historical_data(self, f: Fields, entry: JournalEntry) -> None:
        f.skip()
        entry.req_id = f.read_int()
        self.cancelled_historical.add(entry.req_id)
