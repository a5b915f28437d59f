"""REST routes, one module per backing service."""
