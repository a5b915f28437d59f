"""Test support shared with e2e: synthetic camera video and a real RTSP server."""
