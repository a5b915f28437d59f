"""Stolen or wanted vehicles from a national database into the agency's hotlist
(`kuzet import-vehicles`, docs/connectors.md); the sources and the batch are kuzet.common's."""
