"""Running more than one supportbot process on one PostgreSQL: who this replica is, the
per-conversation lock every replica honours, LISTEN/NOTIFY between replicas, and counters
every replica shares. Only used when the store is PostgreSQL; one process on SQLite needs
none of it."""
