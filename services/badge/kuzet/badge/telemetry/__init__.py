"""The device path: badges' Connect streams, telemetry ingest, rules, and the replicas that share them.

The device port (wire, grpcwire and its two HTTP/2 framings h2grpc / h2lib, with the peer limits
of h2limits) and the API port both hand a stream to session; the hub keeps each badge's latest
state in memory (live, link), writes history in batches and runs the rules; streams, commands and
follow are what the replicas share through the database; history reads stored telemetry back.
"""
