"""One module per node kind: its config model (``Config``) and its executor."""
