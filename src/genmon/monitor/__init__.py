"""The engine: record types, queues and workers, the rolling store, tracking."""
