"""Road geometry both ingest (per frame) and the traffic service (per observation) stand on.

Kazakhstan plate formats, the ground-plane calibration, counting lines and speed. The traffic
service owns hotlists and storage; ingest counts and measures as it tracks.
"""
