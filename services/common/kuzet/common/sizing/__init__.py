"""`kuzet plan`: per-site sizing from the measured costs in bench/results (docs/sizing.md)."""
