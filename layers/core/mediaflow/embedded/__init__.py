"""The embedded deployment: mediaflow whole on one machine (a data dir, SQLite, worker processes).

Mirrors ``mediaflow.cloud``: ``bootstrap`` wires the ports to the embedded adapters; ``app`` holds the
run/ingest use cases; ``executor`` runs the ASL; ``http_server``, ``serve`` and ``cli`` are its entry points."""
