"""Scale-out behind nginx: throughput and p99 through deploy/nginx.conf with one instance and
with two, beside the same load sent straight to one instance, in one run.

nginx is Debian's package (installed with apt-get when missing) started on loopback with a
temporary main config that includes deploy/nginx.conf itself, with only the listen address
and the upstream ports filled in. Both instances are the Procfile command. On one 2-core
machine two instances (4 workers) share the same two cores with nginx and the load
generator, so a second instance cannot add CPU here: this run shows the proxy's cost and
that load is spread; across machines each instance brings its own cores.

The run keeps deploy/nginx.conf's per-client limits on (limit_conn, limit_req, the header
buffers and timeouts). All its clients come from one address, 127.0.0.1, so the per-address
numbers that let 40 patients behind one clinic NAT chat at once would refuse most of them:
--per-address-limit (default: the number of clients) raises just those numbers, the open
chats per address (limit_conn) and the bursts of the two limit_req zones, in the generated
copy. The rates and every other limit stay as deployed; the output says what was raised.

usage: python bench/nginx_scaleout.py [--clients 100] [--seconds 10] [--quick]
                                      [--per-address-limit N]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from capacity import established
from common import (ROOT, UNLIMITED, Result, free_port, questions, raise_fd_limit, start_server,
                    summary_ms)
from wsclient import Plan, run_load

SITE = ROOT / "deploy" / "nginx.conf"


def ensure_nginx() -> str:
    """Path of nginx, installing Debian's package if it is missing."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("nginx not found: installing Debian's package (apt-get install -y nginx)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], env=env, check=True)
    return shutil.which("nginx") or "/usr/sbin/nginx"


# deploy/nginx.conf's per-address numbers that a one-address load generator would hit:
# `limit_conn chatbot_ws N;` and the `burst=N` of each `limit_req zone=chatbot_...`.
PER_ADDRESS_LIMITS = [r"(limit_conn chatbot_ws )\d+(;)",
                      r"(limit_req zone=chatbot_ws_open burst=)\d+( nodelay;)",
                      r"(limit_req zone=chatbot_ask burst=)\d+( nodelay;)"]


def site_config(listen_port: int, upstream_ports: list[int],
                per_address_limit: int | None = None) -> str:
    """deploy/nginx.conf with loopback ports in place of the clinic's and, if
    `per_address_limit` is given, its per-address connection limit and bursts raised to it
    (the limits stay on: only the numbers change)."""
    text = SITE.read_text()
    if per_address_limit is not None:
        for pattern in PER_ADDRESS_LIMITS:
            text, k = re.subn(pattern, lambda m: f"{m.group(1)}{per_address_limit}{m.group(2)}",
                              text)
            if k != 1:
                raise RuntimeError(f"deploy/nginx.conf has no {pattern!r}: update "
                                   "PER_ADDRESS_LIMITS")
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"
                      for p in upstream_ports)
    text, n = re.subn(r"(upstream chatbot \{.*?least_conn;\n)(?:\s*server [^\n]*\n)+",
                      lambda m: m.group(1) + servers, text, flags=re.S)
    text, m = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", text)
    if n != 1 or m != 1:
        raise RuntimeError("deploy/nginx.conf changed shape: update site_config()")
    return text


class Nginx:
    """nginx in the foreground with its own prefix, so nothing system-wide is touched."""

    def __init__(self, binary: str, upstream_ports: list[int],
                 per_address_limit: int | None = None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        (self.dir / "chatbot.conf").write_text(site_config(self.port, upstream_ports,
                                                           per_address_limit))
        (self.dir / "nginx.conf").write_text(f"""
daemon off;
worker_processes auto;
worker_rlimit_nofile 16384;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    include {self.dir}/chatbot.conf;
}}
""")
        subprocess.run([binary, "-t", "-q", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                       check=True)
        self.proc = subprocess.Popen([binary, "-p", str(self.dir), "-c",
                                      str(self.dir / "nginx.conf")], start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not come up: {(self.dir / 'error.log').read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(ws_url: str, origin: str, clients: int, seconds: float,
            instance_ports: list[int]) -> dict:
    """A closed-loop run; also how the connections were spread over the instances."""
    plan = Plan(ws_url, origin, questions(), chatters=clients, duration=seconds,
                start_at=time.time() + 1.5)
    spread: dict[int, int] = {}

    def sample() -> None:
        time.sleep(max(0.0, plan.start_at - time.time()) + seconds / 2)
        spread.update({p: established(p) for p in instance_ports})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rep = run_load(plan, processes=2)
    sampler.join()
    return {"replies_per_s": round(rep.replies / seconds, 1), **summary_ms(rep.latencies),
            "errors": rep.errors + rep.connect_failures, "error_samples": rep.error_samples,
            "connections_per_instance": list(spread.values())}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="3 s per run")
    ap.add_argument("--per-address-limit", type=int, default=None,
                    help="open chats per address and limit_req bursts in the generated "
                         "config (default: --clients; deploy/nginx.conf has 40)")
    args = ap.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    per_address = args.per_address_limit or args.clients
    print(f"nginx limits on; per-address numbers raised to {per_address} for the one-address "
          f"load generator (limit_conn chatbot_ws, burst of chatbot_ws_open and chatbot_ask); "
          f"rates, header buffers and timeouts as in deploy/nginx.conf", flush=True)
    raise_fd_limit()
    binary = ensure_nginx()
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip()
    rows = {}
    with start_server(env=UNLIMITED) as a, start_server(env=UNLIMITED) as b:
        rows["direct, 1 instance"] = measure(a.ws_url, a.origin, args.clients, seconds, [a.port])
        for label, ports in (("nginx, 1 instance", [a.port]),
                             ("nginx, 2 instances", [a.port, b.port])):
            proxy = Nginx(binary, ports, per_address)
            try:
                origin = f"http://127.0.0.1:{proxy.port}"
                rows[label] = measure(f"ws://127.0.0.1:{proxy.port}/ws", origin, args.clients,
                                      seconds, ports)
            finally:
                proxy.stop()
    for label, r in rows.items():
        print(f"{label:20s} {r['replies_per_s']:8.1f}/s  p50 {r['p50_ms']:6.1f}  "
              f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}  "
              f"spread {r['connections_per_instance']}", flush=True)
    data = {"clients": args.clients, "seconds": seconds, "nginx": version, "rows": rows,
            "rate_limit_env": UNLIMITED,
            "nginx_limits": {"on": True, "per_address_limit": per_address,
                             "raised": ["limit_conn chatbot_ws", "chatbot_ws_open burst",
                                        "chatbot_ask burst"]}}
    Result("nginx_scaleout", "python bench/nginx_scaleout.py" + (" --quick" if args.quick else ""),
           data).save()
    return data


if __name__ == "__main__":
    main()
