"""Throughput between containers on two simulated hosts over the overlay (VXLAN), against the same two
hosts' plain veth path over the underlay bridge (no VXLAN): MB/s of each and the ratio.

    python3 bench/overlay.py [--mb 500] [--runs 5] [--json]

The hosts are the integration test's simulation (tests/integration/test_overlay.py: each host a
network namespace plugged by a veth into a private underlay bridge, its own mydocker root, a real
etcd): needs root and etcd-server. Container A (host 0) and container B (host 1) are busybox
`sleep`s on an overlay network; the traffic is a Python socket pump run by the host's python3 inside
their network namespaces (`nsenter --net=/proc/<pid>/ns/net`), so both paths use the same sender and
receiver and only the network differs:
    overlay:  B's netns -> veth -> bridge -> VXLAN -> underlay -> VXLAN -> bridge -> veth -> A's netns
    underlay: host 1's netns -> veth -> underlay bridge -> veth -> host 0's netns
The receiver counts the bytes it got until EOF; a run whose count is not what the sender sent is an
error, not a figure. Runs alternate between the paths; the median of each is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PORT = 15301
CHUNK = 1 << 20

RECEIVER = r"""
import socket, sys, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(1)
srv.settimeout(60)
print("ready", flush=True)
conn, _ = srv.accept()
conn.settimeout(60)
buf = bytearray(1 << 20)
got, start = 0, None
while True:
    n = conn.recv_into(buf)
    if not n:
        break
    if start is None:
        start = time.perf_counter()
    got += n
end = time.perf_counter()
print(got, end - (start or end), flush=True)
"""

SENDER = r"""
import socket, sys
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes(1 << 20)
s = socket.create_connection((host, port), timeout=60)
sent = 0
while sent < total:
    chunk = data[:min(len(data), total - sent)]
    s.sendall(chunk)
    sent += len(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print(sent, flush=True)
"""


def transfer(receiver_netns: str, sender_netns: str, address: str, total: int) -> float:
    """MB/s (10^6 bytes) of one transfer of `total` bytes, checked: the receiver got every byte."""
    py = sys.executable
    recv = subprocess.Popen(["nsenter", f"--net={receiver_netns}", py, "-c", RECEIVER, str(PORT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if recv.stdout.readline().strip() != "ready":
            raise RuntimeError(f"receiver did not start: {recv.stderr.read()}")
        send = subprocess.run(["nsenter", f"--net={sender_netns}", py, "-c", SENDER, address, str(PORT), str(total)],
                              capture_output=True, text=True, timeout=300)
        if send.returncode != 0:
            raise RuntimeError(f"sender failed: {send.stderr.strip()}")
        out, err = recv.communicate(timeout=60)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    got, seconds = out.split()
    if int(got) != total or int(send.stdout.strip()) != total:
        raise RuntimeError(f"moved {got} bytes (sender says {send.stdout.strip()}), expected {total}")
    return total / float(seconds) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=500, help="megabytes (10^6) per transfer (default 500)")
    ap.add_argument("--runs", type=int, default=5, help="transfers per path (default 5)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/overlay.py needs root (namespaces, links)", file=sys.stderr)
        return 2
    from tests.integration.test_overlay import Sim
    from tests.unit.test_cluster import ETCD
    if not os.path.exists(ETCD):
        print("skipped (etcd is not installed: apt-get install -y etcd-server)")
        return 0
    from mydocker import launcher
    base = tempfile.mkdtemp(prefix="mydocker-bench-overlay-")
    os.makedirs(f"{base}/bin")
    launcher.install(f"{base}/bin")
    sim = Sim(base, f"{base}/bin")
    total = args.mb * 1000 * 1000
    try:
        sim.up()
        a, b = sim.hosts[0], sim.hosts[1]
        a.cli("network", "create", "--driver", "overlay", "--subnet", "10.252.0.0/24", "ovl")
        a.cli("run", "-d", "--name", "sink", "--network", "ovl", "busybox", "sleep", "100000")
        b.cli("run", "-d", "--name", "source", "--network", "ovl", "busybox", "sleep", "100000")
        ip, _ = a.endpoint("sink")
        pid_a = a.cli("inspect", "-f", "{{.State.Pid}}", "sink").stdout.strip()
        pid_b = b.cli("inspect", "-f", "{{.State.Pid}}", "source").stdout.strip()
        mtu = a.cli("exec", "sink", "cat", "/sys/class/net/eth0/mtu").stdout.strip()
        paths = {"overlay": (f"/proc/{pid_a}/ns/net", f"/proc/{pid_b}/ns/net", ip),
                 "underlay": (f"/run/netns/{a.name}", f"/run/netns/{b.name}", a.address)}
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, path in paths.items():
                results[name].append(transfer(*path, total))
        vx, ul = (statistics.median(results[n]) for n in ("overlay", "underlay"))
        if args.json:
            print(json.dumps({"mb": args.mb, "runs": results, "overlay_mbps": vx, "underlay_mbps": ul,
                              "ratio": vx / ul, "overlay_mtu": int(mtu)}))
        else:
            print(f"{args.mb} MB per transfer, {args.runs} runs per path, median; every byte counted")
            print(f"overlay  (VXLAN, container to container, MTU {mtu}): {vx:8.1f} MB/s  "
                  f"{' '.join(f'{r:.0f}' for r in results['overlay'])}")
            print(f"underlay (veth + bridge, host to host, MTU 1500):  {ul:8.1f} MB/s  "
                  f"{' '.join(f'{r:.0f}' for r in results['underlay'])}")
            print(f"ratio overlay/underlay: {vx / ul:.2f}")
    finally:
        sim.down()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
