"""Event ingestion: the Event codec and validation, the Kafka producer with its
dead-letter queue, replay of the simulator's log, and the ``encore events`` commands."""
