"""The controller's store: SQLite by default, PostgreSQL for bigger sites.

`Store.open(url)` connects, `upgrade()` migrates the schema (Alembic), and
`read()` / `write()` give one transaction each. The repositories are plain
functions taking the store, e.g. `record_event()` and `next_epoch()`.
"""

from controller.store.events import ControllerEvent, list_events, next_epoch, record_event
from controller.store.store import Store

__all__ = [
    "ControllerEvent",
    "Store",
    "list_events",
    "next_epoch",
    "record_event",
]
