"""What the controller does with messages from receivers."""

from controller.ingest.receivers import IngestCounters, ReceiverIngest

__all__ = ["IngestCounters", "ReceiverIngest"]
