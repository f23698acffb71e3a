"""Network benchmarks: IPAM speed and throughput over mydocker's bridge and port mapping.

    python3 bench/network.py [--seconds 3] [--json]

1. IPAM: allocate every address of a /16, then release them all (target < 1 s); and the persisted
   path (one SQLite transaction per allocation, as a `run` does) for a /24.
2. Throughput with iperf3 (or a Python socket pump when iperf3 is missing):
   - container → host over the bridge (client in the container's netns, server on the gateway)
   - host → container through `-p` (client on the host to 127.0.0.1:<published>, DNAT)
   against a plain veth pair between the host and a netns (no bridge, no NAT): target ≥ 0.9×.
   The "container" is the network sandbox mydocker's engine builds for `run` (netns, veth, bridge,
   nft rules); its traffic is processes in that netns, the same data path as a container's.
   podman is not the baseline: its CNI/netavark set-up would add its own bridge and rules to the host.

Everything runs on addresses inside namespaces this script creates, and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PORT = 15201


def bench_ipam() -> dict:
    from mydocker.network.ipam import Bitmap
    start = time.perf_counter()
    bitmap = Bitmap("10.200.0.0/16")
    got = [bitmap.allocate() for _ in range(65536 - 3)]
    for ip in got:
        bitmap.release(ip)
    elapsed = time.perf_counter() - start
    assert len(set(got)) == 65533 and bitmap.free_count() == 65533
    from mydocker.engine.networks import NetworkService
    from mydocker.engine.database import Records
    with tempfile.TemporaryDirectory(prefix="mydocker-bench-ipam") as root:
        svc = NetworkService(Records(os.path.join(root, "db")), root, os.path.join(root, "run"))
        from mydocker.engine.network_schema import Network
        from mydocker.network.ipam import Bitmap as B
        svc.store.add_network(Network("b", "b", "bridge", "10.201.0.0/24", "10.201.0.1", "mdbench"),
                              B("10.201.0.0/24").to_bytes())
        net = svc.get("b")
        t = time.perf_counter()
        for n in range(253):
            svc._add_endpoint(f"{n:064x}", net, None, [], [], "eth0")
        persisted = (time.perf_counter() - t) / 253
    return {"ipam_16_allocate_release_all_s": round(elapsed, 3), "addresses": len(got),
            "persisted_allocation_ms": round(persisted * 1000, 3)}


# -- throughput ---------------------------------------------------------------------------------

PUMP_SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
"""
PUMP_CLIENT = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); buf = b"x" * (1 << 20)
end = time.monotonic() + float(sys.argv[3]); n = 0; t = time.monotonic()
while time.monotonic() < end:
    s.sendall(buf); n += len(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); print(n * 8 / (time.monotonic() - t) / 1e9)
"""


def ns(path: str | None) -> list[str]:
    return ["nsenter", f"--net={path}"] if path else []


def throughput(server_ns: str | None, bind: str, client_ns: str | None, target: str, port: int, seconds: float,
               server_port: int = PORT) -> float:
    """Gbit/s from a client in `client_ns` to `target:port`, served in `server_ns` on `server_port`."""
    if shutil.which("iperf3"):
        server = subprocess.Popen([*ns(server_ns), "iperf3", "-s", "-1", "-p", str(server_port)]
                                  + (["-B", bind] if bind != "0.0.0.0" else []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(50):
                time.sleep(0.05)
                out = subprocess.run([*ns(client_ns), "iperf3", "-J", "-c", target, "-p", str(port),
                                      "-t", str(seconds)], capture_output=True, text=True)
                report = json.loads(out.stdout or "{}")
                if out.returncode == 0 and "sum_received" in report.get("end", {}):
                    return report["end"]["sum_received"]["bits_per_second"] / 1e9
            raise RuntimeError(f"iperf3 failed: {out.stdout[-300:]} {out.stderr[-300:]}")
        finally:
            server.kill()
            server.wait()
    server = subprocess.Popen([*ns(server_ns), sys.executable, "-c", PUMP_SERVER, bind, str(server_port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        out = subprocess.run([*ns(client_ns), sys.executable, "-c", PUMP_CLIENT, target, str(port), str(seconds)],
                             capture_output=True, text=True, check=True)
        return float(out.stdout)
    finally:
        server.kill()
        server.wait()


def bench_throughput(seconds: float, repeats: int) -> dict:
    from mydocker.engine.networks import NetworkService
    from mydocker.engine.database import Records
    from mydocker.network import netns
    from mydocker.network.ports import parse
    work = tempfile.mkdtemp(prefix="mydocker-bench-net")
    svc = NetworkService(Records(os.path.join(work, "db")), work, os.path.join(work, "run"))
    base_ns = os.path.join(work, "baseline-ns")
    host_if, peer_if = f"mdb{os.urandom(3).hex()}h", f"mdb{os.urandom(3).hex()}p"
    cid = os.urandom(32).hex()
    results: dict = {"tool": "iperf3" if shutil.which("iperf3") else "python socket pump", "seconds": seconds}
    try:
        att = svc.attach(cid, "bench", None, ports=[parse(f"127.0.0.1:{PORT + 1}:{PORT}")])
        ctr_ip, gateway = att.addresses[0], svc.get("bridge").gateway
        # the baseline: one veth pair, host <-> netns, no bridge, no NAT
        netns.create(base_ns)
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if], check=True)
        subprocess.run(["ip", "link", "set", peer_if, "netns", base_ns], check=True)
        subprocess.run(["ip", "addr", "add", "10.252.0.1/30", "dev", host_if], check=True)
        subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
        for cmd in (["ip", "addr", "add", "10.252.0.2/30", "dev", peer_if], ["ip", "link", "set", peer_if, "up"],
                    ["ip", "link", "set", "lo", "up"]):
            subprocess.run([*ns(base_ns), *cmd], check=True)
        cases = {
            "container->host (bridge)": lambda: throughput(None, gateway, att.netns, gateway, PORT, seconds),
            "baseline netns->host (veth)": lambda: throughput(None, "10.252.0.1", base_ns, "10.252.0.1", PORT, seconds),
            "host->container (-p, DNAT)": lambda: throughput(att.netns, "0.0.0.0", None, "127.0.0.1", PORT + 1,
                                                             seconds),
            "baseline host->netns (veth)": lambda: throughput(base_ns, "10.252.0.2", None, "10.252.0.2", PORT, seconds),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):  # interleaved, so a busy moment of the host hits every case alike
            for name, run in cases.items():
                samples[name].append(run())
        for name, values in samples.items():
            results[name] = round(sorted(values)[len(values) // 2], 2)
        results["ratio container->host"] = round(results["container->host (bridge)"]
                                                 / results["baseline netns->host (veth)"], 3)
        results["ratio host->container"] = round(results["host->container (-p, DNAT)"]
                                                 / results["baseline host->netns (veth)"], 3)
    finally:
        svc.detach(cid)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        netns.remove(base_ns)
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = {"ipam": bench_ipam()}
    if os.geteuid() == 0:
        out["throughput_gbit_s"] = bench_throughput(args.seconds, args.repeats)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    ipam = out["ipam"]
    print(f"IPAM: allocate+release all {ipam['addresses']} addresses of a /16: "
          f"{ipam['ipam_16_allocate_release_all_s']} s (target < 1 s); "
          f"one persisted allocation (SQLite BEGIN IMMEDIATE): {ipam['persisted_allocation_ms']} ms")
    for key, value in out.get("throughput_gbit_s", {}).items():
        print(f"  {key:32} {value}{'' if key.startswith(('ratio', 'tool', 'seconds')) else ' Gbit/s'}")


if __name__ == "__main__":
    main()
