"""Node kinds that exist only in tests: each is one module, added to a test's own catalog with
``mediaflow.catalog.extended`` (tests/unit/test_kind_registry.py)."""
