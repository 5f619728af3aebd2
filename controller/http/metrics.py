"""`GET /metrics`: the controller in the Prometheus text format, every name `loa_`.

Read when scraped, from the live state and one grouped count in the store:

- `loa_receivers{state}`: registered receivers by health state;
- `loa_deliveries{state}`: deliveries (one occurrence on one receiver) by state;
- `loa_receipts_total`: receipts the controller took in (rate() gives the ingest rate);
- `loa_receiver_messages_total`, `loa_receiver_transitions_total`;
- `loa_occurrences_dispatched_total`, `loa_scheduled_fires_total`,
  `loa_scheduled_missed_total`;
- `loa_mqtt_connected` (1 or 0), `loa_mqtt_connections_total`;
- `loa_live_watchers`: dashboard pages and API clients following `/api/v1/events`;
- `loa_live_events_total`: changes told to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from controller.http.context import Ctx, HttpContext
from controller.store.schema import deliveries
from devices.delivery import DELIVERY_STATES
from devices.health import HEALTH_STATES

router = APIRouter(tags=["controller"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    def __init__(self, context: HttpContext, delivery_counts: dict[str, int]) -> None:
        self._context = context
        self._deliveries = delivery_counts

    def collect(self) -> Iterator[Metric]:
        context = self._context
        states = Counter(machine.state for machine in context.ingest.receivers())
        receivers = GaugeMetricFamily(
            "loa_receivers", "Registered receivers by health state", labels=["state"]
        )
        for state in HEALTH_STATES:
            receivers.add_metric([state], states.get(state, 0))
        yield receivers
        by_state = GaugeMetricFamily(
            "loa_deliveries", "Deliveries (an occurrence on a receiver) by state", labels=["state"]
        )
        for delivery_state in DELIVERY_STATES:
            by_state.add_metric([delivery_state], self._deliveries.get(delivery_state, 0))
        yield by_state
        delivery = context.delivery.counters
        ingest = context.ingest.counters
        yield CounterMetricFamily(
            "loa_receipts", "Delivery receipts taken in", value=delivery.receipts
        )
        yield CounterMetricFamily(
            "loa_receiver_messages", "Status and heartbeat messages taken in", value=ingest.messages
        )
        yield CounterMetricFamily(
            "loa_receiver_transitions", "Receiver health state changes", value=ingest.transitions
        )
        yield CounterMetricFamily(
            "loa_occurrences_dispatched", "Occurrences sent to receivers", value=delivery.dispatched
        )
        scheduler = context.controller.scheduler
        fired = scheduler.fired if scheduler else 0
        yield CounterMetricFamily("loa_scheduled_fires", "Schedule air times fired", value=fired)
        yield CounterMetricFamily(
            "loa_scheduled_missed",
            "Schedule air times recorded missed",
            value=scheduler.missed if scheduler else 0,
        )
        link = context.link
        yield GaugeMetricFamily(
            "loa_mqtt_connected",
            "1 while the controller's MQTT link is up",
            value=1 if link.connected.is_set() else 0,
        )
        yield CounterMetricFamily(
            "loa_mqtt_connections", "MQTT connections made", value=link.connections
        )
        yield GaugeMetricFamily(
            "loa_live_watchers", "Followers of /api/v1/events", value=context.hub.watchers
        )
        yield CounterMetricFamily(
            "loa_live_events", "Live changes published", value=context.hub.published
        )


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
async def metrics(context: Ctx) -> Response:
    async with context.store.read() as session:
        count = func.count().label("n")
        rows = await session.execute(select(deliveries.c.state, count).group_by(deliveries.c.state))
        counts = {str(row.state): int(row.n) for row in rows}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(context, counts))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
