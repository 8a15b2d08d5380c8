"""The shared contracts of Encore: what every producer of events and every consumer of
them agrees on. The simulated world is one producer among others (the Events gRPC
service is another); the stream processor, the Spark jobs and every model depend on
these modules, never on the simulator.

- :mod:`.vocabulary`: the actions and scenarios, derived from ``protos/encore/v1/event.proto``
  (the proto enum is the source; the event log spells them in lower case);
- :mod:`.event_log`: the event-log table (columns, types, partition layout);
- :mod:`.catalog`: the catalog tables (artists, albums, tracks, shows) and the
  knowledge-graph triples;
- :mod:`.sessions`: the one sessionization rule;
- :mod:`.labels`: the one outcome rule (a complete play);
- :mod:`.sampling`: the per-listener sample cap and budget.
"""
