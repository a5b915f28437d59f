"""National database connectors: records read from an outside source (a file dropped in an
object store, a REST API) and applied to Kuzet as one all-or-nothing batch (docs/connectors.md)."""
