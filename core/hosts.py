"""Several "hosts" on one machine: network namespaces joined by a bridge, each with an address of its own (issue 22).

These machines run no container engine, but as root `ip netns` gives each host its
own network stack: its own address, its own port space (every service listens on
its usual port, 5432, 5005, 8080 ...), and its own /etc/hosts, so the services find
each other by the names deploy/compose.yaml uses (`postgres`, `rasa-1`,
`gateway-2` ...). A host's processes can be killed all at once, as when a machine
dies, while the others keep running. bench/hosts.py and tests/test_hosts.py build
the deployment of deploy/compose.yaml on such hosts.

Names are tagged with a short run id, so two runs at once do not collide, and
`Network.destroy` removes every namespace, link and hosts file it made.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.stack import Process

_NETNS_ETC = Path("/etc/netns")


class HostsUnavailable(RuntimeError):
    """This machine cannot make network namespaces (not root, or no `ip netns`); the message says what is missing."""


def require_namespaces() -> None:
    """Fail with a clear reason unless we can create namespaces, veth pairs and a bridge."""
    if os.geteuid() != 0:
        raise HostsUnavailable("the hosts run needs root: network namespaces are made with `ip netns add` (iproute2)")
    if shutil.which("ip") is None:
        raise HostsUnavailable("`ip` (Debian's iproute2) is missing: apt-get install iproute2")
    probe = f"ccprobe{secrets.token_hex(3)}"
    _ip("netns", "add", probe)
    _ip("netns", "del", probe, check=False)


def _ip(*args: str, check: bool = True) -> str:
    """Run `ip ARGS` (iproute2) and return its output."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    if check and done.returncode != 0:
        raise HostsUnavailable(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _free_subnet() -> str:
    """A 10.x.y.0/24 no route of this machine uses (three octets, without the host part)."""
    routes = _ip("-4", "route")
    for _ in range(100):
        prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"  # noqa: S311 -- not a secret
        if f"{prefix}." not in routes:
            return prefix
    raise HostsUnavailable("no free 10.x.y.0/24 subnet found for the hosts")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process and its reaped children (PostgreSQL's exited backends), from /proc."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class Host:
    """One network namespace: an address, the service names that resolve to it, the processes started in it."""

    name: str
    namespace: str
    address: str
    link: str  # the bridge side of its veth pair
    aliases: tuple[str, ...]
    processes: dict[str, Process] = field(default_factory=dict)

    def command(self, args: Sequence[str], *, user: tuple[int, int] | None = None) -> list[str]:
        """`args` run inside this host; `user` (uid, gid) drops root first (PostgreSQL refuses to run as root)."""
        drop = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", "--"] if user else []
        return ["ip", "netns", "exec", self.namespace, *drop, *args]

    def run(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a short command inside this host and fail with its output when it fails."""
        done = subprocess.run(self.command(args), env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed on {self.name}: {done.stdout}{done.stderr}")
        return done

    def spawn(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        cwd: Path | None = None,
        user: tuple[int, int] | None = None,
    ) -> Process:
        """Start a long-running service on this host, its output in `log_dir/<name>.log`."""
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{self.name}-{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(  # noqa: S603
                self.command(args, user=user),
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process = Process(name=f"{self.name}/{name}", popen=popen, log_path=log_path)
        return process

    def pids(self) -> list[int]:
        """Every process whose network is this host's (what `ip netns pids` lists)."""
        return [int(pid) for pid in _ip("netns", "pids", self.namespace, check=False).split()]

    def cpu_seconds(self) -> float:
        """CPU used so far by the processes living on this host."""
        return sum(proc_cpu_seconds(pid) for pid in self.pids())

    def rss_kib(self) -> int:
        """Resident memory of the processes living on this host."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def kill(self) -> int:
        """Kill every process of this host at once (SIGKILL, as when the machine dies); how many there were."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(pids)

    def stop(self) -> None:
        """Stop its services in reverse start order, then kill whatever is left."""
        for process in reversed(list(self.processes.values())):
            with contextlib.suppress(OSError):
                os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in reversed(list(self.processes.values())):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        self.kill()


@dataclass
class Network:
    """A bridge in the machine's own namespace and one namespace per host, on a /24 of its own.

    The machine's namespace holds the bridge's address (.1), so a test or bench
    reaches every host by address, as a client on the same network would.
    """

    tag: str
    prefix: str  # the subnet's first three octets
    bridge: str
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def gateway_address(self) -> str:
        """The machine's own address on the network (where the load comes from)."""
        return f"{self.prefix}.1"

    @classmethod
    def create(cls, layout: Mapping[str, Sequence[str]]) -> Network:
        """One host per entry of `layout` (host name -> the service names that resolve to it)."""
        require_namespaces()
        tag = secrets.token_hex(2)
        network = cls(tag=tag, prefix=_free_subnet(), bridge=f"ccbr{tag}")
        try:
            _ip("link", "add", network.bridge, "type", "bridge")
            _ip("addr", "add", f"{network.gateway_address}/24", "dev", network.bridge)
            _ip("link", "set", network.bridge, "up")
            for number, (name, aliases) in enumerate(layout.items(), start=10):
                network.hosts[name] = host = Host(
                    name=name,
                    namespace=f"cc{tag}-{name}",
                    address=f"{network.prefix}.{number}",
                    link=f"cc{tag}h{number}",
                    aliases=tuple(aliases),
                )
                _ip("netns", "add", host.namespace)
                _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
                _ip("link", "set", host.link, "master", network.bridge, "up")
                _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
                _ip("-n", host.namespace, "link", "set", "eth0", "up")
                _ip("-n", host.namespace, "link", "set", "lo", "up")
            network._write_hosts_files()
        except BaseException:
            network.destroy()
            raise
        return network

    def _write_hosts_files(self) -> None:
        """/etc/netns/<namespace>/hosts: `ip netns exec` shows it as /etc/hosts inside that host."""
        lines = ["127.0.0.1 localhost"]
        lines += [f"{host.address} {host.name} {' '.join(host.aliases)}" for host in self.hosts.values()]
        for host in self.hosts.values():
            folder = _NETNS_ETC / host.namespace
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hosts").write_text("\n".join(lines) + "\n")

    def address_of(self, service: str) -> str:
        """The address a service name resolves to."""
        for host in self.hosts.values():
            if service == host.name or service in host.aliases:
                return host.address
        raise KeyError(service)

    def destroy(self) -> None:
        """Stop every host's processes and remove namespaces, links, the bridge and the hosts files."""
        for host in reversed(list(self.hosts.values())):
            with contextlib.suppress(Exception):
                host.stop()
        for host in self.hosts.values():
            _ip("link", "del", host.link, check=False)
            _ip("netns", "del", host.namespace, check=False)
            shutil.rmtree(_NETNS_ETC / host.namespace, ignore_errors=True)
        _ip("link", "del", self.bridge, check=False)


@contextlib.contextmanager
def host_network(layout: Mapping[str, Sequence[str]]) -> Iterator[Network]:
    """A network of hosts, removed on exit whatever happened."""
    network = Network.create(layout)
    try:
        yield network
    finally:
        network.destroy()


def leftovers(tag: str) -> list[str]:
    """Namespaces and links of a run still present (a check that destroy left nothing)."""
    names = _ip("netns", "list", check=False)
    links = _ip("-o", "link", check=False)
    found = [line.split()[0] for line in names.splitlines() if line.startswith(f"cc{tag}-")]
    found += [line.split(":")[1].strip() for line in links.splitlines() if f"cc{tag}h" in line or f"ccbr{tag}" in line]
    return found
