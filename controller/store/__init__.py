"""The controller's store: SQLite by default, PostgreSQL for bigger sites.

`Store.open(url)` connects, `upgrade()` migrates the schema (Alembic), and
`read()` / `write()` give one transaction each. The repositories are plain
functions taking the store, e.g. `record_event()`, `next_epoch()` and the
receiver registry's `import_registry()` and `list_receivers()`.
"""

from controller.store.events import ControllerEvent, list_events, next_epoch, record_event
from controller.store.registry import (
    Change,
    ImportResult,
    ReceiverDetail,
    ReceiverRow,
    Unregistered,
    adopt,
    get_receiver,
    import_registry,
    list_receivers,
    list_unregistered,
    record_unregistered,
)
from controller.store.store import Store

__all__ = [
    "Change",
    "ControllerEvent",
    "ImportResult",
    "ReceiverDetail",
    "ReceiverRow",
    "Store",
    "Unregistered",
    "adopt",
    "get_receiver",
    "import_registry",
    "list_events",
    "list_receivers",
    "list_unregistered",
    "next_epoch",
    "record_event",
    "record_unregistered",
]
