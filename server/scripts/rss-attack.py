#!/usr/bin/env python3
"""Measures kms-server's resident memory (VmRSS) idle, during an attack of slow clients that
each hold a large unfinished request head, and after they leave.

    python3 server/scripts/rss-attack.py ./target/release/kms-server \
        [--connections 4000] [--head-bytes 60000] [--hold 20] [--after 60] [-- SERVER FLAGS...]

Starts the server on a free loopback port (with a 120 s header timeout unless the flags say
otherwise, so that the server keeps the attackers until they leave), opens the connections,
sends each a request line and one header that never ends, holds them, closes them all, and
prints VmRSS at each step. Loopback only; bounded in connections and time.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--connections", type=int, default=4000)
    parser.add_argument("--head-bytes", type=int, default=60000)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--after", type=float, default=60.0)
    parser.add_argument("server_flags", nargs="*")
    args = parser.parse_args()

    flags = list(args.server_flags)
    if not any(f.startswith("--header-timeout") for f in flags):
        flags += ["--header-timeout", "120s"]
    env = dict(os.environ)
    env["KMS_SERVER_ACCESS_KEYS"] = "LTAI5tDemoAccessKey0001:demo-secret-change-me:1234567890123456"
    server = subprocess.Popen(
        [args.binary, "--listen", "127.0.0.1:0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        port = None
        for line in server.stdout:
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("the server did not start")
        time.sleep(1)
        idle = rss_kib(server.pid)
        print(f"idle: {idle} KiB", flush=True)

        head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * args.head_bytes
        sockets = []
        start = time.time()
        for _ in range(args.connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            sockets.append([s, 0])
        # Send every head (non-blocking, round robin), never the final CRLF.
        pending = len(sockets)
        while pending and time.time() - start < args.hold:
            pending = 0
            for entry in sockets:
                s, sent = entry
                if sent < len(head):
                    try:
                        entry[1] += s.send(head[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except OSError:
                        entry[1] = len(head)
                    if entry[1] < len(head):
                        pending += 1
        sent_all = time.time() - start
        print(f"{args.connections} connections, {args.head_bytes} bytes of head each, sent in {sent_all:.1f} s", flush=True)
        peak = rss_kib(server.pid)
        while time.time() - start < args.hold:
            time.sleep(1)
            peak = max(peak, rss_kib(server.pid))
        print(f"attack: {rss_kib(server.pid)} KiB (peak {peak} KiB)", flush=True)
        for s, _ in sockets:
            s.close()
        left = time.time()
        for mark in (5, 15, 30, args.after):
            if mark > args.after:
                continue
            time.sleep(max(0.0, left + mark - time.time()))
            print(f"{mark:.0f} s after they left: {rss_kib(server.pid)} KiB", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
