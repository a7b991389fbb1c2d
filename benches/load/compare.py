#!/usr/bin/env python3
"""Drives the load comparison: wrk at saturation (rounds interleaved, medians), oha at a
fixed rate (half of each configuration's saturation), a concurrency sweep, CPU seconds
of the proxy under test. Writes results.json, table.md and latency-vs-concurrency.png
into --out. Loopback only; every run is bounded in time."""
import argparse, json, os, re, statistics, subprocess, time, urllib.request

CONFIGS = {
    "a": ("origin direct (nginx return 200)", "http://127.0.0.1:18080/", {}),
    "b": ("sso-gateway, public route, anonymous", "http://127.0.0.1:18081/public", {"Host": "shop.localhost"}),
    "c": ("sso-gateway, login route, valid session", "http://127.0.0.1:18081/account", {"Host": "shop.localhost"}),
    "d": ("nginx reverse proxy (1 worker)", "http://127.0.0.1:18083/", {}),
    "e": ("Apache + mod_auth_openidc, valid session", "http://127.0.0.1:18084/protected/", {}),
}

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

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--gateway-cookie", required=True)
    ap.add_argument("--apache-cookie", required=True)
    ap.add_argument("--oha", default="oha")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    a = ap.parse_args()
    CONFIGS["c"][2]["Cookie"] = a.gateway_cookie
    CONFIGS["e"][2]["Cookie"] = a.apache_cookie
    proxies = {"a": "nginx-origin.conf", "b": "sso-gateway run", "c": "sso-gateway run",
               "d": "nginx-proxy.conf", "e": "apache-openidc.conf"}
    for name, (_, url, headers) in CONFIGS.items():
        check(name, url, headers)

    runs = {k: [] for k in CONFIGS}
    for r in range(a.rounds):
        for name, (_, url, headers) in CONFIGS.items():
            pids = pids_of(proxies[name])
            before = cpu_seconds(pids)
            res = wrk(url, headers, 32, a.seconds)
            res["cpu_s_per_10k"] = (cpu_seconds(pids) - before) / res["requests"] * 10000
            runs[name].append(res)
            print(f"round {r + 1} {name}: {res['rps']:.0f} req/s p99 {res['p99_ms']:.2f} ms", flush=True)
    sat = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50_ms", "p99_ms", "cpu_s_per_10k")}
           | {"non_2xx": sum(x["non_2xx"] for x in v)} for k, v in runs.items()}

    fixed = {}
    for name in "bcde":
        _, url, headers = CONFIGS[name]
        fixed[name] = oha(a.oha, url, headers, sat[name]["rps"] / 2, a.seconds)
        print(f"fixed rate {name}: {fixed[name]}", flush=True)

    sweep = {k: [] for k in "bcd"}
    for conns in (1, 10, 100, 1000):
        for name in "bcd":
            _, url, headers = CONFIGS[name]
            res = wrk(url, headers, conns, 5)
            sweep[name].append({"connections": conns, "rps": res["rps"], "p99_ms": res["p99_ms"]})
            print(f"sweep {name} c={conns}: {res['rps']:.0f} req/s p99 {res['p99_ms']:.2f} ms", flush=True)

    ratios = {"c/b": sat["c"]["rps"] / sat["b"]["rps"], "c/d": sat["c"]["rps"] / sat["d"]["rps"],
              "c/e": sat["c"]["rps"] / sat["e"]["rps"], "b/d": sat["b"]["rps"] / sat["d"]["rps"],
              "p99_added_by_auth_at_half_ms": fixed["c"]["p99_ms"] - fixed["b"]["p99_ms"]}
    os.makedirs(a.out, exist_ok=True)
    json.dump({"saturation": sat, "rounds": runs, "fixed_rate": fixed, "sweep": sweep, "ratios": ratios},
              open(os.path.join(a.out, "results.json"), "w"), indent=2)

    lines = ["| config | what | req/s (median) | p50 ms | p99 ms | CPU s / 10k req | fixed rate | p50 / p99 / p99.9 ms at that rate |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for k, (what, _, _) in CONFIGS.items():
        s, f = sat[k], fixed.get(k)
        fr = f"{f['rate']}" if f else "–"
        fl = f"{f['p50_ms']:.3f} / {f['p99_ms']:.3f} / {f['p999_ms']:.3f}" if f else "–"
        lines.append(f"| {k} | {what} | {s['rps']:.0f} | {s['p50_ms']:.3f} | {s['p99_ms']:.3f} | {s['cpu_s_per_10k']:.3f} | {fr} | {fl} |")
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in ratios.items()]
    lines += ["", "| connections | b req/s | b p99 ms | c req/s | c p99 ms | d (nginx) req/s | d p99 ms |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for b, c, d in zip(sweep["b"], sweep["c"], sweep["d"]):
        lines.append(f"| {b['connections']} | {b['rps']:.0f} | {b['p99_ms']:.2f} | {c['rps']:.0f} | {c['p99_ms']:.2f} "
                     f"| {d['rps']:.0f} | {d['p99_ms']:.2f} |")
    open(os.path.join(a.out, "table.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for name, label in (("b", "sso-gateway public route"), ("c", "sso-gateway login route, session"),
                            ("d", "nginx reverse proxy")):
            xs = [p["connections"] for p in sweep[name]]
            ax1.plot(xs, [p["rps"] for p in sweep[name]], marker="o", label=label)
            ax2.plot(xs, [p["p99_ms"] for p in sweep[name]], marker="o", label=label)
        for ax, title in ((ax1, "throughput (req/s)"), (ax2, "p99 latency (ms)")):
            ax.set_xscale("log"); ax.set_xlabel("concurrent connections"); ax.set_title(title); ax.grid(True, alpha=0.3)
        ax2.set_yscale("log"); ax1.legend()
        fig.suptitle("proxy under test on one core (wrk, loopback)")
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "latency-vs-concurrency.png"), dpi=100)
    except ImportError:
        print("matplotlib missing: no plot")

if __name__ == "__main__":
    main()
