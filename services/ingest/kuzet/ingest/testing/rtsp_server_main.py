"""GStreamer RTSP server for tests; run with Debian's python3 (which has `gi`), not the venv.

    /usr/bin/python3 rtsp_server_main.py PORT MOUNT=FILE.mp4 [MOUNT=FILE.mp4 ...]

Serves each MP4 (H.264) at rtsp://127.0.0.1:PORT/MOUNT without re-encoding, paced in real
time, from its beginning for every client. Prints READY when listening. Kept free of venv
imports on purpose: it runs under the system interpreter.
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    Gst.init(None)
    port = sys.argv[1]
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    for arg in sys.argv[2:]:
        mount, _, path = arg.partition("=")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 '
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        # Every client starts the clip from its beginning (a scenario must be seen whole).
        factory.set_shared(False)
        mounts.add_factory("/" + mount.strip("/"), factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
