#!/usr/bin/env python3
"""Drives the load comparison: wrk at saturation (rounds interleaved, medians), oha at a
fixed rate (half of each configuration's saturation), a concurrency sweep, CPU seconds
of the proxy under test, and the ratios the performance targets name. The servers of
run.sh stay up; the gateway variants (memory, access log on, Redis) are started here one
at a time on the same port. Writes results.json, table.md and load.png into --out.
Loopback only; every run is bounded in time."""
import argparse, json, os, re, statistics, subprocess, time, urllib.request

GW = "http://127.0.0.1:18081"
SHOP = {"Host": "shop.localhost"}
# name: (what, url, headers, gateway variant or None for a server run.sh started)
CONFIGS = {
    "a": ("origin direct (nginx return 200)", "http://127.0.0.1:18080/", {}, None),
    "b0": ("bare Pingora pass-through (the platform's limit)", "http://127.0.0.1:18087/public", {}, None),
    "b": ("sso-gateway, public route, anonymous", GW + "/public", SHOP, "memory"),
    "c": ("sso-gateway, login route, valid session", GW + "/account", SHOP, "memory"),
    "d": ("nginx reverse proxy (1 worker)", "http://127.0.0.1:18083/", {}, None),
    "e": ("Apache + mod_auth_openidc, valid session", "http://127.0.0.1:18084/protected/", {}, None),
    "bL": ("sso-gateway, public route, access log on (warn,access=info)", GW + "/public", SHOP, "logged"),
    "cL": ("sso-gateway, login route, access log on", GW + "/account", SHOP, "logged"),
    "dL": ("nginx reverse proxy, access log on (default combined format)", "http://127.0.0.1:18086/", {}, None),
    "f": ("sso-gateway, login route, sessions in Redis + L1", GW + "/account", SHOP, "redis"),
}
# The gateway variants, one at a time on port 18081 (CPU 1): the config file each
# starts from in --bench-dir, and the log level it is given.
VARIANTS = {
    "memory": ("gateway.toml", "warn"),
    "logged": ("gateway.toml", "warn,access=info"),
    "redis": ("gateway-redis.toml", "warn"),
}
# With --before BIN: an earlier build of the gateway, measured in the same rounds.
BEFORE_CONFIGS = {
    "b-before": ("earlier build: public route", GW + "/public", SHOP, "before"),
    "c-before": ("earlier build: login route, valid session", GW + "/account", SHOP, "before"),
    "bL-before": ("earlier build: public route, access log on", GW + "/public", SHOP, "before-logged"),
}
BEFORE_VARIANTS = {"before": ("gateway.toml", "warn"), "before-logged": ("gateway.toml", "warn,access=info")}

def cpu_seconds(pids):
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick

def pids_of(pattern):
    """Processes whose command line matches, and their children (nginx and Apache
    workers do not repeat the config path in their command line)."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    for pid in list(pids):
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(k) for k in kids.split()]
    return pids

def header_args(tool, headers):
    args = []
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    return args

def check(name, url, headers):
    req = urllib.request.Request(url, headers=headers)
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        resp = urllib.request.build_opener(NoRedirect).open(req, timeout=5)
        body = resp.read()
        status = resp.status
    except urllib.error.HTTPError as e:
        status, body = e.code, b""
    if status != 200 or body != b"ok\n":
        raise SystemExit(f"configuration {name} does not reach the origin: {status} {body[:80]!r}")

def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

def wrk(url, headers, connections, seconds):
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"] + header_args("wrk", headers) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "requests": requests,
            "non_2xx": int(errors.group(1)) if errors else 0}

def oha(oha_bin, url, headers, rate, seconds):
    cmd = ["taskset", "-c", "0", oha_bin, "-z", f"{seconds}s", "-q", str(int(rate)), "-c", "32",
           "--latency-correction", "--disable-keepalive" if False else "--no-tui", "--output-format", "json"]
    cmd += header_args("oha", headers) + [url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    data = json.loads(res.stdout)
    pct = data["latencyPercentiles"]
    return {"rate": int(rate), "p50_ms": pct["p50"] * 1000, "p99_ms": pct["p99"] * 1000,
            "p999_ms": pct["p99.9"] * 1000, "success_rate": data["summary"]["successRate"]}

class Gateway:
    """One sso-gateway variant at a time on 127.0.0.1:18081 (admin 18091), on CPU 1,
    started from its config in --bench-dir with its log level; a shopper is signed in
    through the real IdP each time (the cookie of the login-route cases)."""

    def __init__(self, bench_dir, binary, login_cookie, before=None):
        self.dir, self.bin, self.login_cookie, self.proc = bench_dir, binary, login_cookie, None
        self.before = before

    def start(self, variant):
        source, level = VARIANTS[variant]
        text = open(os.path.join(self.dir, source)).read()
        text = re.sub(r"^log_level = .*$", f'log_level = "{level}"', text, count=1, flags=re.M)
        path = os.path.join(self.dir, f"gateway-{variant}.toml")
        open(path, "w").write(text)
        log = open(os.path.join(self.dir, f"gateway-{variant}.log"), "ab")
        binary = self.before if variant.startswith("before") else self.bin
        self.proc = subprocess.Popen(["taskset", "-c", "1", binary, "run", "--config", path],
                                     stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 30
        while True:
            try:
                if urllib.request.urlopen("http://127.0.0.1:18091/readyz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"gateway variant {variant} did not become ready (see {log.name})")
            time.sleep(0.1)
        out = subprocess.run([self.login_cookie, GW.replace("127.0.0.1", "shop.localhost") + "/account", "bench"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"signing in to gateway variant {variant} failed: {out.stderr[-500:]}")
        return out.stdout.strip()

    def stop(self):
        if self.proc:
            self.proc.send_signal(2)  # SIGINT: at once
            self.proc.wait(timeout=30)
            self.proc = None

def cases_of(variant):
    return [k for k, v in CONFIGS.items() if v[3] == variant]

def headers_of(name, cookies):
    _, _, headers, variant = CONFIGS[name]
    if name in ("c", "cL", "f", "e", "c-before"):
        return headers | {"Cookie": cookies[variant or "apache"]}
    return headers

def measure(name, cookies, pids, connections, seconds):
    _, url, _, _ = CONFIGS[name]
    before = cpu_seconds(pids)
    res = wrk(url, headers_of(name, cookies), connections, seconds)
    res["cpu_s_per_10k"] = (cpu_seconds(pids) - before) / max(res["requests"], 1) * 10000
    return res

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench-dir", required=True)
    ap.add_argument("--gateway", default="target/release/sso-gateway")
    ap.add_argument("--login-cookie", default="target/release/login_cookie")
    ap.add_argument("--apache-cookie", required=True)
    ap.add_argument("--oha", default="oha")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--before", help="an earlier sso-gateway build, measured alongside (b, c, bL)")
    a = ap.parse_args()
    if a.before:
        CONFIGS.update(BEFORE_CONFIGS)
        VARIANTS.update(BEFORE_VARIANTS)
    gw = Gateway(a.bench_dir, a.gateway, a.login_cookie, a.before)
    cookies = {"apache": a.apache_cookie}
    servers = {"a": "nginx-origin.conf", "b0": "bare_pingora", "d": "nginx-proxy.conf",
               "dL": "nginx-proxy-logged.conf", "e": "apache-openidc.conf"}
    fixed_cases = [k for k, v in CONFIGS.items() if v[3] is None]
    for name in fixed_cases:
        check(name, CONFIGS[name][1], headers_of(name, cookies))

    runs = {k: [] for k in CONFIGS}
    try:
        for r in range(a.rounds):
            for name in fixed_cases:
                runs[name].append(measure(name, cookies, pids_of(servers[name]), 32, a.seconds))
                print(f"round {r + 1} {name}: {runs[name][-1]['rps']:.0f} req/s p99 {runs[name][-1]['p99_ms']:.2f} ms", flush=True)
            for variant in VARIANTS:
                cookies[variant] = gw.start(variant)
                for name in cases_of(variant):
                    check(name, CONFIGS[name][1], headers_of(name, cookies))
                    runs[name].append(measure(name, cookies, [gw.proc.pid], 32, a.seconds))
                    print(f"round {r + 1} {name}: {runs[name][-1]['rps']:.0f} req/s p99 {runs[name][-1]['p99_ms']:.2f} ms", flush=True)
                gw.stop()
        sat = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50_ms", "p99_ms", "cpu_s_per_10k")}
               | {"non_2xx": sum(x["non_2xx"] for x in v)} for k, v in runs.items()}

        cookies["memory"] = gw.start("memory")
        fixed = {}
        for name in ("b0", "b", "c", "d", "e"):
            fixed[name] = oha(a.oha, CONFIGS[name][1], headers_of(name, cookies), sat[name]["rps"] / 2, a.seconds)
            print(f"fixed rate {name}: {fixed[name]}", flush=True)

        sweep = {k: [] for k in ("b0", "b", "c", "d")}
        for conns in (1, 10, 100, 1000):
            for name in sweep:
                res = wrk(CONFIGS[name][1], headers_of(name, cookies), conns, 5)
                sweep[name].append({"connections": conns, "rps": res["rps"], "p99_ms": res["p99_ms"]})
                print(f"sweep {name} c={conns}: {res['rps']:.0f} req/s p99 {res['p99_ms']:.2f} ms", flush=True)
    finally:
        gw.stop()

    rps = {k: v["rps"] for k, v in sat.items()}
    # (what, value, target as text, met?)
    ratios = {
        "b/b0": (rps["b"] / rps["b0"], ">= 0.95", rps["b"] / rps["b0"] >= 0.95),
        "c/b": (rps["c"] / rps["b"], ">= 0.95", rps["c"] / rps["b"] >= 0.95),
        "bL/b (access log on / off)": (rps["bL"] / rps["b"], ">= 0.95", rps["bL"] / rps["b"] >= 0.95),
        "c/e": (rps["c"] / rps["e"], ">= 5", rps["c"] / rps["e"] >= 5),
        "bL/dL (both logging)": (rps["bL"] / rps["dL"], ">= 0.60", rps["bL"] / rps["dL"] >= 0.60),
        "b/d (neither logging)": (rps["b"] / rps["d"], "-", None),
        "f/c (Redis + L1 / memory)": (rps["f"] / rps["c"], ">= 0.95", rps["f"] / rps["c"] >= 0.95),
        "p99 b / p99 d (saturation, 32 connections)": (sat["b"]["p99_ms"] / sat["d"]["p99_ms"], "<= 1.5",
                                                        sat["b"]["p99_ms"] / sat["d"]["p99_ms"] <= 1.5),
        "p99 b / p99 d (oha, half of saturation)": (fixed["b"]["p99_ms"] / fixed["d"]["p99_ms"], "-", None),
        "b0/d (the platform against nginx)": (rps["b0"] / rps["d"], "-", None),
    }
    if a.before:
        ratios["b-before/b0"] = (rps["b-before"] / rps["b0"], "-", None)
        ratios["bL-before/b-before"] = (rps["bL-before"] / rps["b-before"], "-", None)
        ratios["c-before/e"] = (rps["c-before"] / rps["e"], "-", None)
        ratios["bL-before/dL"] = (rps["bL-before"] / rps["dL"], "-", None)
    os.makedirs(a.out, exist_ok=True)
    json.dump({"saturation": sat, "rounds": runs, "fixed_rate": fixed, "sweep": sweep,
               "ratios": {k: v[0] for k, v in ratios.items()}},
              open(os.path.join(a.out, "results.json"), "w"), indent=2)

    lines = ["| config | what | req/s (median) | p50 ms | p99 ms | CPU s / 10k req | fixed rate | p50 / p99 / p99.9 ms at that rate |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for k, (what, _, _, _) in CONFIGS.items():
        s, f = sat[k], fixed.get(k)
        fr = f"{f['rate']}" if f else "–"
        fl = f"{f['p50_ms']:.3f} / {f['p99_ms']:.3f} / {f['p999_ms']:.3f}" if f else "–"
        lines.append(f"| {k} | {what} | {s['rps']:.0f} | {s['p50_ms']:.3f} | {s['p99_ms']:.3f} | {s['cpu_s_per_10k']:.3f} | {fr} | {fl} |")
    lines += ["", "| ratio | value | target | |", "|---|---:|---|---|"]
    lines += [f"| {k} | {v:.3f} | {t} | {'met' if ok else 'missed' if ok is False else ''} |"
              for k, (v, t, ok) in ratios.items()]
    lines += ["", "| connections | b0 req/s | b0 p99 ms | b req/s | b p99 ms | c req/s | c p99 ms | d (nginx) req/s | d p99 ms |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for b0, b, c, d in zip(sweep["b0"], sweep["b"], sweep["c"], sweep["d"]):
        lines.append(f"| {b['connections']} | {b0['rps']:.0f} | {b0['p99_ms']:.2f} | {b['rps']:.0f} | {b['p99_ms']:.2f} "
                     f"| {c['rps']:.0f} | {c['p99_ms']:.2f} | {d['rps']:.0f} | {d['p99_ms']:.2f} |")
    open(os.path.join(a.out, "table.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(a.out, sat, sweep)

def plot(out, sat, sweep):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(15, 4))
    names = list(CONFIGS)
    ax0.barh(names[::-1], [sat[n]["rps"] for n in names[::-1]], color="tab:blue")
    ax0.set_title("saturation, 32 connections (req/s, median)")
    ax0.grid(True, axis="x", alpha=0.3)
    for name, label in (("b0", "bare Pingora"), ("b", "sso-gateway public route"),
                        ("c", "sso-gateway login route, session"), ("d", "nginx reverse proxy")):
        xs = [p["connections"] for p in sweep[name]]
        ax1.plot(xs, [p["rps"] for p in sweep[name]], marker="o", label=label)
        ax2.plot(xs, [p["p99_ms"] for p in sweep[name]], marker="o", label=label)
    for ax, title in ((ax1, "throughput (req/s)"), (ax2, "p99 latency (ms)")):
        ax.set_xscale("log"); ax.set_xlabel("concurrent connections"); ax.set_title(title); ax.grid(True, alpha=0.3)
    ax2.set_yscale("log"); ax1.legend()
    fig.suptitle("proxy under test on one core (wrk, loopback)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "load.png"), dpi=100)

if __name__ == "__main__":
    main()
