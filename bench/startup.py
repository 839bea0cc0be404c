#!/usr/bin/env python3
"""Startup and shutdown of the whole Artemis app, measured from outside as a user sees it.

For each run: a cold start (empty state folder) with `aspire start --isolated` + `aspire wait web` (web waits for
agents, which wait for redis and artemisdb: web healthy means everything is), a SIGTERM stop, a warm start (same
state folder), and a SIGKILL of the AppHost (DCP must clean up the rest). Baseline measured in the same run: Redis
and PostgreSQL started by hand on the same data (the floor any orchestration adds to).

Usage: python3 bench/startup.py [runs]   (writes bench/results/startup.md)
"""
import json, os, urllib.request, platform, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
APPHOST = os.path.join(ROOT, "Artemis.AppHost")
SECRETS = ["--Parameters:redis-password=bench-redis-pw", "--Parameters:postgres-password=bench-postgres-pw",
           "--Parameters:agents-api-key=bench-api-key-0123456789abcdef"]
PG_BIN = "/usr/lib/postgresql/15/bin"


def aspire(*args, timeout=300):
    return subprocess.run(["dotnet", "aspire", *args, "--nologo", "--non-interactive"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def procs():
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            yield pid, cmd, cwd


def app_processes(state, apphost_pid):
    found = []
    for pid, cmd, cwd in procs():
        if pid == os.getpid():
            continue
        if (pid == apphost_pid or cwd.startswith(state) or f"--monitor {apphost_pid}" in cmd
                or "Artemis.Agents" in cmd or "Artemis.Web" in cmd or "dcp monitor-process" in cmd
                or "dcp run-controllers" in cmd):
            found.append((pid, cmd))
    return found


def wait_gone(state, apphost_pid, limit):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if not app_processes(state, apphost_pid):
            return time.monotonic() - start, []
        time.sleep(0.05)
    return None, app_processes(state, apphost_pid)


def start_app(state):
    t0 = time.monotonic()
    started = aspire("start", "--isolated", "--no-build", "--format", "Json", "--apphost", APPHOST, "--",
                     f"--Artemis:StateDirectory={state}", *SECRETS)
    if started.returncode != 0:
        sys.exit(f"aspire start failed:\n{started.stdout}\n{started.stderr}")
    info = json.loads(started.stdout[started.stdout.index("{"):])
    waited = aspire("wait", "web", "--timeout", "180", "--apphost", APPHOST)
    elapsed = time.monotonic() - t0
    if waited.returncode != 0:
        sys.exit(f"aspire wait failed:\n{waited.stdout}\n{waited.stderr}")
    described = _json_of(aspire("describe", "--format", "Json", "--apphost", APPHOST).stdout)
    unhealthy = [r["name"] for r in described["resources"]
                 if r["resourceType"] != "Parameter" and r.get("healthStatus") != "Healthy"]
    if unhealthy:
        sys.exit(f"not healthy after web was: {unhealthy}")
    return elapsed, info["appHostPid"]


def _json_of(text):
    return json.loads(text[text.index("{"):])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)


def baseline(state):
    """The same app started by hand, in the same order, without Aspire: Redis and PostgreSQL on the app's own data
    (PostgreSQL as the postgres account when root), then the built agents and web executables with the settings
    Aspire would give them, each polled for readiness every 20 ms. No DCP, dashboard, `dotnet run` or health cadence."""
    redis_port, pg_port, agents_port, web_port = free_port(), free_port(), free_port(), free_port()
    t0 = time.monotonic()
    started = []
    redis = subprocess.Popen(["redis-server", os.path.join(state, "redis", "redis.conf"), "--port", str(redis_port)],
                             cwd=os.path.join(state, "redis"), stdout=subprocess.DEVNULL)
    prefix = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if os.geteuid() == 0 else []
    pg = subprocess.Popen(prefix + [f"{PG_BIN}/postgres", "-D", os.path.join(state, "postgres"), "-p", str(pg_port),
                                    "-c", "listen_addresses=localhost", "-c", "unix_socket_directories="],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started += [redis, pg]
    while subprocess.run(["redis-cli", "-p", str(redis_port), "-a", "bench-redis-pw", "--no-auth-warning", "ping"],
                         capture_output=True, text=True).stdout.strip() != "PONG":
        time.sleep(0.02)
    while subprocess.run([f"{PG_BIN}/pg_isready", "-h", "127.0.0.1", "-p", str(pg_port)], capture_output=True).returncode != 0:
        time.sleep(0.02)
    servers = time.monotonic() - t0
    env = dict(os.environ, Artemis__Api__Key="bench-api-key-0123456789abcdef", ASPNETCORE_ENVIRONMENT="Development")
    agents = subprocess.Popen([os.path.join(ROOT, "Artemis.Agents", "bin", "Debug", "net10.0", "Artemis.Agents")],
                              cwd=os.path.join(ROOT, "Artemis.Agents"), stdout=subprocess.DEVNULL, env=dict(
        env, ASPNETCORE_URLS=f"http://127.0.0.1:{agents_port}",
        ConnectionStrings__redis=f"127.0.0.1:{redis_port},password=bench-redis-pw",
        ConnectionStrings__artemisdb=f"Host=127.0.0.1;Port={pg_port};Username=postgres;Password=bench-postgres-pw;Database=artemisdb"))
    started.append(agents)
    wait_http(f"http://127.0.0.1:{agents_port}/health")
    web = subprocess.Popen([os.path.join(ROOT, "Artemis.Web", "bin", "Debug", "net10.0", "Artemis.Web")],
                           cwd=os.path.join(ROOT, "Artemis.Web"), stdout=subprocess.DEVNULL, env=dict(
        env, ASPNETCORE_URLS=f"http://127.0.0.1:{web_port}", services__agents__http__0=f"http://127.0.0.1:{agents_port}"))
    started.append(web)
    wait_http(f"http://127.0.0.1:{web_port}/health")
    elapsed = time.monotonic() - t0
    for p in reversed(started):
        p.send_signal(signal.SIGINT if p is pg else signal.SIGTERM)
        p.wait(30)
    return servers, elapsed


def med(values):
    return statistics.median(values)


def main():
    subprocess.run(["dotnet", "build", "Artemis.sln", "-nologo", "-clp:ErrorsOnly"], cwd=ROOT, check=True)
    cold, warm, term, kill, base, servers = [], [], [], [], [], []
    leftovers = []
    for run in range(RUNS + 1):  # run 0 warms caches and is not counted
        state = tempfile.mkdtemp(prefix="artemis-bench-")
        os.chmod(state, 0o755)  # mkdtemp makes it 0700; PostgreSQL runs as the postgres account and must reach it
        try:
            c, pid = start_app(state)
            stop_started = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            t, left = wait_gone(state, pid, 60)
            w, pid2 = start_app(state)
            os.kill(pid2, signal.SIGKILL)
            k, left2 = wait_gone(state, pid2, 60)
            srv, b = baseline(state)
            if run == 0:
                continue
            cold.append(c); warm.append(w); base.append(b); servers.append(srv)
            term.append(t if t is not None else float("inf")); kill.append(k if k is not None else float("inf"))
            leftovers += left + left2
            print(f"run {run}: cold {c:.2f}s warm {w:.2f}s sigterm-stop {t}s sigkill-cleanup {k}s baseline {b:.2f}s", flush=True)
        finally:
            shutil.rmtree(state, ignore_errors=True)

    command = f"python3 bench/startup.py {RUNS}"
    rows = [
        ("cold start to all healthy (`aspire start --isolated` + `aspire wait web`, empty state)", cold, "—"),
        ("warm start to all healthy (same, second start on the same state)", warm, "≤ 6 s"),
        ("SIGTERM to the AppHost → every process gone", term, "≤ 20 s"),
        ("SIGKILL of the AppHost → every process gone (DCP cleanup)", kill, "≤ 15 s"),
        ("baseline: the same five started by hand in the same order (no Aspire), to web healthy", base, "—"),
        ("of which redis-server + postgres to ready", servers, "—"),
    ]
    lines = [
        "# Startup and shutdown of the whole app",
        "",
        f"Command: `{command}` (from the repository root; builds first, one uncounted warm-up run).",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Medians of {RUNS} runs (min–max in brackets). The app: redis, postgres, artemisdb, agents, web, with DCP and "
        "the dashboard, as `aspire start --isolated` runs it.",
        "",
        "| figure | median | min–max | target |",
        "|---|---|---|---|",
    ]
    for name, values, target in rows:
        lines.append(f"| {name} | {med(values):.2f} s | {min(values):.2f}–{max(values):.2f} s | {target} |")
    lines += [
        "",
        f"Warm start / baseline: **{med(warm) / med(base):.2f}×**, +{med(warm) - med(base):.2f} s: what Aspire adds (the CLI, "
        "DCP, the dashboard, `dotnet run` around each service, health-check cadence) to starting the same processes by hand.",
        f"Processes left behind after a stop: {len(leftovers)}.",
    ]
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "startup.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
