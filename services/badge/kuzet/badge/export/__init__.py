"""Citations exported to the administrative-offence register (`kuzet export-citations`)."""
