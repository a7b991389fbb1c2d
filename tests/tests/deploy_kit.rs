//! The deploy kit, checked the way an operator would before shipping it: the
//! Dockerfiles pass hadolint; the compose file passes the compose-spec schema and
//! wires its services together; the systemd unit passes `systemd-analyze verify` and
//! keeps its sandbox; the Kubernetes manifests pass `kubernetes-validate --strict`
//! (the ServiceMonitor: the Prometheus Operator's own schema) and refer to each other
//! correctly; and every gateway configuration in the kit passes `sso-gateway check`.
//! No container engine runs here: images are linted, not built (docs/deploy.md).
//! The linters come from PyPI (`scripts/setup.sh` installs them).

use serde_json::Value;
use sso_tests::gateway::check;
use sso_tests::{gateway_bin, repo_root};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------- helpers

fn deploy(rel: &str) -> PathBuf {
    repo_root().join("deploy").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A command on `PATH`, or in pip's `--user` bin directory (where `scripts/setup.sh`
/// puts the linters on a Debian whose own Python refuses system-wide installs).
fn tool(name: &str) -> PathBuf {
    if let Some(found) = find_on_path(name) {
        return found;
    }
    let user_base = Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let candidate = Path::new(&user_base).join("bin").join(name);
    assert!(
        candidate.is_file(),
        "{name} not found on PATH nor in {user_base}/bin: run scripts/setup.sh"
    );
    candidate
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

use sso_tests::run_command as run;

/// Every YAML document of `path` as JSON (Python's yaml, a dependency of
/// kubernetes-validate; merge keys resolved).
fn yaml_docs(path: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout)";
    let (ok, out) = run(Command::new("python3").args(["-c", script]).arg(path));
    assert!(ok, "{} is not YAML:\n{out}", path.display());
    match serde_json::from_str(&out) {
        Ok(Value::Array(docs)) => docs,
        other => panic!("{}: unexpected {other:?}", path.display()),
    }
}

/// A TOML text as JSON (Python's tomllib).
fn toml_json(text: &str) -> Value {
    let script = "import json, sys, tomllib\njson.dump(tomllib.loads(sys.argv[1]), sys.stdout)";
    let (ok, out) = run(Command::new("python3").args(["-c", script, text]));
    assert!(ok, "not TOML:\n{out}\n{text}");
    serde_json::from_str(&out).expect("json")
}

/// The `${NAME}`s a configuration reads from the environment.
fn env_refs(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("unclosed ${");
        names.insert(after[..end].to_string());
        rest = &after[end..];
    }
    names
}

/// A value for each of `names` that every secret of the configuration accepts.
fn dummy_env(names: &BTreeSet<String>) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.clone(), "dummy-secret-0123456789abcdef0123456789abcdef".to_string()))
        .collect()
}

fn check_with(text: &str, env: &[(String, String)]) -> (bool, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    check(text, &env).expect("sso-gateway check runs")
}

/// The configuration with each site's upstream `"host:port"` whose host `rename`
/// picks replaced by `"127.0.0.1:port"` (`check` resolves upstream names, and a
/// compose or cluster service name resolves only in its own network).
fn upstreams_on_loopback(text: &str, rename: impl Fn(&str) -> bool) -> String {
    let config = toml_json(text);
    let mut local = text.to_string();
    for site in config["sites"].as_array().expect("sites") {
        for upstream in site["upstreams"].as_array().expect("upstreams") {
            let upstream = upstream.as_str().expect("upstream");
            let host = upstream.rsplit_once(':').map_or(upstream, |(h, _)| h);
            if rename(host) {
                let loopback = format!("\"127.0.0.1:{}\"", port_of(upstream));
                local = local.replace(&format!("\"{upstream}\""), &loopback);
            }
        }
    }
    assert_ne!(local, text, "no upstream to point at loopback");
    local
}

/// The port of a `host:port`.
fn port_of(addr: &str) -> u16 {
    let port = addr.rsplit(':').next().unwrap_or_default();
    port.parse().unwrap_or_else(|_| panic!("{addr:?} has no port"))
}

/// Seconds of a gateway duration (`5s`, `1m`, `500ms`).
fn seconds(duration: &str) -> f64 {
    let d = duration.trim();
    let (num, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
    let n: f64 = num.parse().unwrap_or_else(|_| panic!("duration {duration:?}"));
    match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => panic!("duration {duration:?}: unit {unit:?} not handled here"),
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

// ---------------------------------------------------------------- Dockerfiles

/// A Dockerfile's instructions, continuation lines joined and comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((keyword.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// Whether `.dockerignore` pattern `pattern` excludes the context path `rel`
/// (the forms this kit uses: `name`, `dir/name`, `**/name`, `*.ext`).
fn ignored_by(pattern: &str, rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or(rel);
    if let Some(name) = pattern.strip_prefix("**/") {
        return rel.split('/').any(|part| part == name);
    }
    if let Some(ext) = pattern.strip_prefix('*') {
        return rel.ends_with(ext);
    }
    rel == pattern || first == pattern || rel.starts_with(&format!("{pattern}/"))
}

fn dockerignore(context: &Path) -> Vec<String> {
    read(&context.join(".dockerignore"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

const DOCKERFILES: [(&str, &str); 2] = [("deploy/Dockerfile", "."), ("deploy/demo/Dockerfile", "deploy/demo")];

#[test]
fn the_dockerfiles_pass_hadolint_without_blanket_ignores() {
    let hadolint = tool("hadolint");
    for config in [".hadolint.yaml", ".hadolint.yml", "deploy/.hadolint.yaml"] {
        assert!(
            !repo_root().join(config).exists(),
            "{config}: no repository-wide hadolint ignores; ignore inline with a reason"
        );
    }
    for (dockerfile, _) in DOCKERFILES {
        let path = repo_root().join(dockerfile);
        let (ok, out) = run(Command::new(&hadolint)
            .args(["--no-color", "--failure-threshold", "style"])
            .arg(&path));
        assert!(ok, "hadolint {dockerfile}:\n{out}");
        // Each inline ignore says why on the comment lines just above it.
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("hadolint ignore") {
                let reason = i
                    .checked_sub(1)
                    .map(|j| lines[j].trim())
                    .filter(|above| above.starts_with('#') && !above.contains("hadolint"));
                assert!(
                    reason.is_some_and(|r| r.len() > 20),
                    "{dockerfile}:{}: an inline ignore without a reason above it",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn the_build_contexts_hold_what_the_dockerfiles_copy() {
    let root = repo_root();
    let root_ignores = dockerignore(&root);
    for must in [".git", "target", "**/node_modules"] {
        assert!(
            root_ignores.iter().any(|p| p == must),
            ".dockerignore must exclude {must}: {root_ignores:?}"
        );
    }
    // `cargo build --locked` in the image needs the lock file and every workspace
    // member's sources in the context.
    let workspace = toml_json(&read(&root.join("Cargo.toml")));
    let members = workspace["workspace"]["members"].as_array().expect("members");
    for needed in members
        .iter()
        .filter_map(Value::as_str)
        .chain(["Cargo.lock", "Cargo.toml"])
    {
        assert!(root.join(needed).exists(), "{needed} missing");
        let hit = root_ignores.iter().find(|p| ignored_by(p, needed));
        assert!(
            hit.is_none(),
            ".dockerignore {hit:?} excludes {needed}, which the build needs"
        );
    }
    for (dockerfile, context) in DOCKERFILES {
        let context = root.join(context);
        let ignores = dockerignore(&context);
        for (keyword, args) in instructions(&read(&root.join(dockerfile))) {
            if keyword != "COPY" || args.contains("--from=") {
                continue;
            }
            let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            for source in &words[..words.len() - 1] {
                let rel = source.trim_start_matches("./");
                assert!(
                    context.join(rel).exists(),
                    "{dockerfile}: COPY {source}: not in the build context {}",
                    context.display()
                );
                if rel != "." {
                    let hit = ignores.iter().find(|p| ignored_by(p, rel));
                    assert!(hit.is_none(), "{dockerfile}: COPY {source} is excluded by {hit:?}");
                }
            }
        }
    }
}

#[test]
fn the_gateway_image_builds_the_gateway_and_runs_it_unprivileged_with_a_healthcheck() {
    let dockerfile = read(&deploy("Dockerfile"));
    let steps = instructions(&dockerfile);
    let stages: Vec<&String> = steps.iter().filter(|(k, _)| k == "FROM").map(|(_, a)| a).collect();
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    for from in &stages {
        let image = from.split_whitespace().next().unwrap_or_default();
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or_default();
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "base image {image} is not pinned to a version tag"
        );
    }
    // The build step builds the real package and binary names.
    let gateway = toml_json(&read(&repo_root().join("gateway/Cargo.toml")));
    let package = str_at(&gateway, "/package/name");
    let binary = str_at(&gateway, "/bin/0/name");
    let build = steps
        .iter()
        .find(|(k, a)| k == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a.as_str())
        .expect("a cargo build step");
    assert!(build.contains(&format!("--release --locked -p {package}")), "{build}");
    assert!(build.contains(&format!("target/release/{binary}")), "{build}");
    assert!(
        steps
            .iter()
            .any(|(k, a)| k == "RUN" && a.contains("install") && a.contains("cmake")),
        "the builder installs cmake (Pingora's zlib-ng)"
    );

    // The runtime stage: everything after the last FROM.
    let last_from = steps.iter().rposition(|(k, _)| k == "FROM").expect("FROM");
    let runtime = &steps[last_from..];
    let user = runtime
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, a)| a.as_str())
        .expect("the runtime stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .expect("a numeric USER");
    assert_ne!(uid, 0, "the gateway must not run as root");
    let installs = runtime
        .iter()
        .filter(|(k, a)| k == "RUN" && a.contains("apt-get install"))
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for package in ["ca-certificates", "curl", "--no-install-recommends"] {
        assert!(
            installs.contains(package),
            "runtime stage installs {package}: {installs}"
        );
    }
    let cmd = runtime
        .iter()
        .find(|(k, _)| k == "CMD")
        .map(|(_, a)| a.as_str())
        .expect("CMD");
    assert!(cmd.contains("/etc/sso-gateway/gateway.toml"), "{cmd}");
    let health = runtime
        .iter()
        .find(|(k, _)| k == "HEALTHCHECK")
        .map(|(_, a)| a.as_str())
        .expect("HEALTHCHECK");
    assert!(health.contains("curl") && health.contains("-f"), "{health}");
    let exposed: BTreeSet<u16> = runtime
        .iter()
        .filter(|(k, _)| k == "EXPOSE")
        .flat_map(|(_, a)| {
            a.split_whitespace()
                .map(|p| p.trim_end_matches("/tcp").parse().expect("port"))
        })
        .collect();

    // The configurations this image runs (compose, Kubernetes) listen where the image
    // says, and the healthcheck asks their admin listener.
    for (name, text) in [
        ("deploy/compose/gateway.toml", read(&deploy("compose/gateway.toml"))),
        ("the k8s ConfigMap", k8s_gateway_toml()),
    ] {
        let config = toml_json(&text);
        let admin = port_of(str_at(&config, "/server/admin_listen"));
        assert!(
            health.contains(&format!("http://127.0.0.1:{admin}/healthz")),
            "HEALTHCHECK must ask {name}'s admin port {admin}: {health}"
        );
        let mut ports = vec![admin];
        for listen in config["server"]["listen"].as_array().expect("listen") {
            let listen = listen.as_str().expect("listen address");
            assert!(
                listen.starts_with("0.0.0.0:"),
                "{name}: {listen} is unreachable from outside the container"
            );
            ports.push(port_of(listen));
        }
        assert!(
            str_at(&config, "/server/admin_listen").starts_with("0.0.0.0:"),
            "{name}"
        );
        for port in ports {
            assert!(
                exposed.contains(&port),
                "{name} listens on {port}, EXPOSE has {exposed:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- compose

fn compose() -> Value {
    let docs = yaml_docs(&deploy("docker-compose.yml"));
    assert_eq!(docs.len(), 1, "one compose document");
    docs.into_iter().next().expect("doc")
}

/// A compose service's environment as a map (either of compose's two forms).
fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

#[test]
fn the_compose_file_passes_the_compose_spec_schema() {
    let file = deploy("docker-compose.yml");
    let (ok, out) = run(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(&file));
    assert!(ok, "check-jsonschema (compose-spec):\n{out}");
    // Docker's own loader, where the compose plugin is installed (it needs no daemon).
    let has_plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_plugin {
        let (ok, out) = run(Command::new("docker")
            .args(["compose", "-f"])
            .arg(&file)
            .args(["config", "--quiet"]));
        assert!(ok, "docker compose config:\n{out}");
    } else {
        eprintln!("docker compose plugin not installed: the compose-spec schema and the structure checks stand in for `docker compose config`");
    }
}

#[test]
fn the_compose_services_are_wired_to_each_other() {
    let compose = compose();
    let base = deploy("");
    let services = compose["services"].as_object().expect("services");
    for name in ["gateway", "redis", "idp", "storefront"] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    for (name, service) in services {
        assert!(
            service.get("image").is_some() || service.get("build").is_some(),
            "{name}: neither image nor build"
        );
        if let Some(build) = service.get("build") {
            let context = base.join(build["context"].as_str().unwrap_or("."));
            let dockerfile = context.join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
            assert!(dockerfile.is_file(), "{name}: {} missing", dockerfile.display());
        }
        if let Some(image) = service["image"].as_str() {
            assert!(
                !image.ends_with(":latest") && image.contains(':'),
                "{name}: pin {image}"
            );
        }
        if let Some(deps) = service["depends_on"].as_object() {
            for dep in deps.keys() {
                assert!(services.contains_key(dep), "{name} depends on unknown {dep}");
            }
        }
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().and_then(|v| v.split(':').next()).unwrap_or_default();
            if source.starts_with('.') {
                assert!(base.join(source).exists(), "{name}: volume source {source} missing");
            }
        }
    }

    // The gateway: built from deploy/Dockerfile, its config mounted where the image
    // reads it, its listeners published (admin on the host's loopback only).
    let gateway = &services["gateway"];
    assert_eq!(gateway["build"]["dockerfile"], "deploy/Dockerfile");
    assert!(base
        .join(str_at(gateway, "/build/context"))
        .join("Cargo.lock")
        .is_file());
    let mounts: Vec<&str> = gateway["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mounts.contains(&"./compose/gateway.toml:/etc/sso-gateway/gateway.toml:ro"),
        "{mounts:?}"
    );
    let text = read(&deploy("compose/gateway.toml"));
    let config = toml_json(&text);
    let ports: Vec<&str> = gateway["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let listen = port_of(str_at(&config, "/server/listen/0"));
    let admin = port_of(str_at(&config, "/server/admin_listen"));
    assert!(ports.iter().any(|p| p.ends_with(&format!(":{listen}"))), "{ports:?}");
    assert!(
        ports.contains(&format!("127.0.0.1:{admin}:{admin}").as_str()),
        "admin published on loopback only: {ports:?}"
    );

    // Every secret the config reads is in the gateway's environment.
    let gw_env = environment(gateway);
    for var in env_refs(&text) {
        assert!(
            gw_env.contains_key(&var),
            "the gateway's config reads ${{{var}}}; compose does not set it"
        );
    }

    // Sessions in the compose Redis, with the password Redis is started with.
    assert_eq!(str_at(&config, "/sessions/store"), "redis");
    let redis_url = url::Url::parse(str_at(&config, "/sessions/redis_url")).expect("redis_url");
    assert_eq!(redis_url.host_str(), Some("redis"), "{redis_url}");
    let redis_command: Vec<&str> = services["redis"]["command"]
        .as_array()
        .expect("redis command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let requirepass = redis_command
        .iter()
        .position(|a| *a == "--requirepass")
        .expect("--requirepass");
    assert_eq!(redis_command[requirepass + 1], gw_env["REDIS_PASSWORD"]);
    assert!(
        str_at(&config, "/sessions/redis_url").contains(":${REDIS_PASSWORD}@"),
        "the gateway authenticates with REDIS_PASSWORD"
    );

    // Origins and hooks are reached by service name, on the port the service listens on.
    let storefront_port: u16 = environment(&services["storefront"])["PORT"].parse().expect("PORT");
    let idp = &services["idp"];
    let idp_env = environment(idp);
    let aliases: Vec<&str> = idp["networks"]["default"]["aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for site in config["sites"].as_array().expect("sites") {
        let name = str_at(site, "/name");
        for upstream in site["upstreams"].as_array().expect("upstreams") {
            let upstream = upstream.as_str().expect("upstream");
            assert_eq!(upstream, format!("storefront:{storefront_port}"), "{name}");
        }
        if let Some(hook) = site.pointer("/provisioning/url").and_then(Value::as_str) {
            let hook = url::Url::parse(hook).expect("hook url");
            assert_eq!(
                (hook.host_str(), hook.port()),
                (Some("storefront"), Some(storefront_port))
            );
        }
        // The browser and the gateway see one issuer: the IdP's own, on a name that
        // resolves to the idp service inside the network and to loopback outside.
        let issuer = str_at(site, "/oidc/issuer");
        assert_eq!(issuer, idp_env["ISSUER"], "{name}");
        let issuer = url::Url::parse(issuer).expect("issuer");
        let host = issuer.host_str().expect("issuer host");
        assert!(
            aliases.contains(&host) && host.ends_with(".localhost"),
            "{host} not an alias of idp: {aliases:?}"
        );
        let idp_port = issuer.port().expect("issuer port");
        assert_eq!(idp_env["PORT"], idp_port.to_string());
        let idp_ports: Vec<&str> = idp["ports"]
            .as_array()
            .expect("idp ports")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            idp_ports.contains(&format!("{idp_port}:{idp_port}").as_str()),
            "{idp_ports:?}"
        );
        assert_eq!(str_at(site, "/oidc/client_id"), idp_env["CLIENT_ID"]);
        assert_eq!(str_at(site, "/oidc/client_secret"), "${OIDC_CLIENT_SECRET}");
        assert_eq!(idp_env["CLIENT_SECRET"], gw_env["OIDC_CLIENT_SECRET"]);
        let callback = format!("{}{}", str_at(site, "/public_url"), str_at(site, "/oidc/callback_path"));
        assert!(
            idp_env["REDIRECT_URIS"].split(',').any(|u| u == callback),
            "the IdP does not allow {callback}: {}",
            idp_env["REDIRECT_URIS"]
        );
        let public = url::Url::parse(str_at(site, "/public_url")).expect("public_url");
        assert_eq!(public.port(), Some(listen), "{name}: public_url port");
    }
    // The demo origin's merchant page signs with the gateway's customer-login secret.
    assert_eq!(
        environment(&services["storefront"])["MERCHANT_LOGIN_SECRET"],
        gw_env["CUSTOMER_LOGIN_SECRET"]
    );
}

#[test]
fn the_compose_gateway_config_passes_check() {
    let text = read(&deploy("compose/gateway.toml"));
    let env = dummy_env(&env_refs(&text));
    let services: BTreeSet<String> = compose()["services"]
        .as_object()
        .expect("services")
        .keys()
        .cloned()
        .collect();
    // As written, the only problems are the service names, which resolve inside the
    // compose network only.
    let (ok, out) = check_with(&text, &env);
    if !ok {
        for line in out.lines().skip(1) {
            let host = line
                .split("cannot resolve \"")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .unwrap_or_else(|| panic!("a problem other than name resolution:\n{out}"));
            assert!(services.contains(host), "{host} is not a compose service:\n{out}");
        }
    }
    // With the upstreams (resolved at start-up) pointed at loopback, everything else
    // builds.
    let local = upstreams_on_loopback(&text, |host| services.contains(host));
    let (ok, out) = check_with(&local, &env);
    assert!(ok, "deploy/compose/gateway.toml fails check:\n{out}");
}

// ---------------------------------------------------------------- systemd

#[test]
fn the_systemd_unit_verifies_and_keeps_its_sandbox() {
    let unit_path = deploy("systemd/sso-gateway.service");
    let unit = read(&unit_path);
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    // The reload design: check, hand the sockets over, start the new binary.
    let reload = values("ExecReload");
    assert_eq!(reload.len(), 3, "{reload:?}");
    assert!(reload[0].contains(" check --config "), "{reload:?}");
    assert!(reload[1].contains("kill -QUIT $MAINPID"), "{reload:?}");
    assert!(reload[2].contains(" run --daemon --upgrade --config "), "{reload:?}");
    // The pid file (and the upgrade socket beside it) live in a writable place.
    let runtime_dir = format!("/run/{}", values("RuntimeDirectory").join(""));
    assert!(
        values("PIDFile")
            .iter()
            .all(|p| p.starts_with(&format!("{runtime_dir}/"))),
        "PIDFile outside {runtime_dir}"
    );
    assert!(values("ReadWritePaths").contains(&runtime_dir));
    assert_eq!(values("CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"]);
    assert_eq!(values("AmbientCapabilities"), ["CAP_NET_BIND_SERVICE"]);
    let families = values("RestrictAddressFamilies").join(" ");
    for family in ["AF_UNIX", "AF_INET", "AF_INET6"] {
        assert!(
            families.contains(family),
            "the upgrade socket and TCP need {family}: {families}"
        );
    }
    for setting in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
    ] {
        assert!(unit.lines().any(|l| l == setting), "{setting} missing");
    }

    let Some(analyze) = find_on_path("systemd-analyze") else {
        eprintln!("systemd-analyze not installed: the unit was not verified (only read)");
        return;
    };
    // verify refuses ExecStart binaries that do not exist: check a copy that runs the
    // binary built for these tests instead of /usr/local/bin/sso-gateway.
    let dir = std::env::temp_dir().join(format!("sso-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let copy = dir.join("sso-gateway.service");
    let bin = std::fs::canonicalize(gateway_bin()).expect("gateway binary");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/sso-gateway", &bin.to_string_lossy()),
    )
    .expect("write unit");
    sso_tests::assert_unit_verified_and_sandboxed(&analyze, &copy, &[]);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- Kubernetes

fn k8s_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("k8s"))
        .expect("deploy/k8s")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every object of deploy/k8s, by `Kind/name`.
fn k8s_objects() -> BTreeMap<String, Value> {
    let mut objects = BTreeMap::new();
    for file in k8s_files() {
        for doc in yaml_docs(&file) {
            // A Kustomization has no name.
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = format!("{}/{name}", str_at(&doc, "/kind"));
            assert!(objects.insert(key.clone(), doc).is_none(), "{key} twice");
        }
    }
    objects
}

fn k8s_gateway_toml() -> String {
    let objects = k8s_objects();
    str_at(&objects["ConfigMap/sso-gateway-config"], "/data/gateway.toml").to_string()
}

/// Whether `selector` (`matchLabels`) selects `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let wanted = selector.as_object().expect("selector labels");
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container port named `name` (or numbered) in a pod spec.
fn container_port(pod: &Value, name: &Value) -> Option<u64> {
    pod["containers"]
        .as_array()?
        .iter()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find_map(|p| {
            let matches = p["name"] == *name || p["containerPort"] == *name;
            matches.then(|| p["containerPort"].as_u64()).flatten()
        })
}

#[test]
fn the_kubernetes_manifests_pass_strict_schema_validation() {
    let validate = tool("kubernetes-validate");
    let files = k8s_files();
    let objects = k8s_objects();
    let built_in = objects
        .keys()
        .filter(|k| !k.starts_with("ServiceMonitor/") && !k.starts_with("Kustomization/"))
        .count();
    assert!(built_in >= 8, "{:?}", objects.keys());
    // The oldest Kubernetes this kit claims, and the newest the validator knows.
    for version in [Some("1.28"), None] {
        let mut cmd = Command::new(&validate);
        cmd.arg("--strict");
        if let Some(v) = version {
            cmd.args(["--kubernetes-version", v]);
        }
        let (ok, out) = run(cmd.args(&files));
        assert!(ok, "kubernetes-validate {version:?}:\n{out}");
        let passed = out
            .lines()
            .filter(|l| l.starts_with("INFO") && l.contains(" passed "))
            .count();
        assert_eq!(passed, built_in, "every built-in object passes ({version:?}):\n{out}");
        // What it cannot know (CRDs, kustomize) it says so, and nothing else.
        for line in out.lines().filter(|l| !l.starts_with("INFO")) {
            assert!(
                line.contains("Couldn't find schema for kind ServiceMonitor with api version monitoring.coreos.com/v1")
                    || line.contains(
                        "Couldn't find schema for kind Kustomization with api version kustomize.config.k8s.io/v1beta1"
                    ),
                "kubernetes-validate {version:?}: {line}\n{out}"
            );
        }
    }
}

#[test]
fn the_servicemonitor_passes_the_prometheus_operator_schema() {
    // The ServiceMonitor's JSON schema generated from the Prometheus Operator's CRD
    // (PyPI cloudcoil-models-prometheus-operator), made strict: unknown fields refused
    // at every level, as the API server's structural schema prunes and rejects them.
    let script = r#"
import json, sys, yaml, jsonschema
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor
schema = ServiceMonitor.model_json_schema(by_alias=True)
def strict(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values(): strict(v)
    elif isinstance(node, list):
        for v in node: strict(v)
strict(schema)
bad = 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    for e in jsonschema.Draft202012Validator(schema).iter_errors(doc):
        bad += 1
        print("/".join(map(str, e.absolute_path)), e.message)
    ServiceMonitor.model_validate(doc)
sys.exit(1 if bad else 0)
"#;
    let (ok, out) = run(Command::new("python3")
        .args(["-c", script])
        .arg(deploy("k8s/servicemonitor.yaml")));
    assert!(
        ok,
        "servicemonitor.yaml against the ServiceMonitor schema (scripts/setup.sh installs it):\n{out}"
    );

    // It scrapes the gateway's admin listener, through the admin Service.
    let objects = k8s_objects();
    let monitor = &objects["ServiceMonitor/sso-gateway"];
    let admin_svc = &objects["Service/sso-gateway-admin"];
    assert!(selects(
        &monitor["spec"]["selector"]["matchLabels"],
        &admin_svc["metadata"]["labels"]
    ));
    let storefront_svc = &objects["Service/sso-gateway"];
    assert!(
        !selects(
            &monitor["spec"]["selector"]["matchLabels"],
            &storefront_svc["metadata"]["labels"]
        ),
        "the ServiceMonitor must not also select the storefront Service"
    );
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let svc_port = admin_svc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == endpoint["port"])
        .unwrap_or_else(|| panic!("the admin Service has no port {}", endpoint["port"]));
    let pod = &objects["Deployment/sso-gateway"]["spec"]["template"]["spec"];
    let target = container_port(pod, &svc_port["targetPort"]).expect("admin targetPort in the pod");
    let config = toml_json(&k8s_gateway_toml());
    assert_eq!(target, u64::from(port_of(str_at(&config, "/server/admin_listen"))));
    assert!(seconds(str_at(endpoint, "/scrapeTimeout")) <= seconds(str_at(endpoint, "/interval")));
}

#[test]
fn the_kubernetes_objects_refer_to_each_other() {
    let objects = k8s_objects();
    let deployment = &objects["Deployment/sso-gateway"];
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 3);
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert!(selects(&spec["selector"]["matchLabels"], pod_labels));
    let pod = &spec["template"]["spec"];
    let gateway = &pod["containers"][0];
    let text = k8s_gateway_toml();
    let config = toml_json(&text);

    // Services and the PDB select the gateway pods; ports lead to the listeners.
    for svc in ["Service/sso-gateway", "Service/sso-gateway-admin"] {
        let service = &objects[svc];
        assert!(
            selects(&service["spec"]["selector"], pod_labels),
            "{svc} selects no gateway pod"
        );
        for port in service["spec"]["ports"].as_array().expect("ports") {
            assert!(
                container_port(pod, &port["targetPort"]).is_some(),
                "{svc}: targetPort {} not in the pod",
                port["targetPort"]
            );
        }
    }
    assert_eq!(
        container_port(pod, &Value::from("http")),
        Some(u64::from(port_of(str_at(&config, "/server/listen/0"))))
    );
    let pdb = &objects["PodDisruptionBudget/sso-gateway"];
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels));
    assert!(
        pdb["spec"].get("minAvailable").is_some() != pdb["spec"].get("maxUnavailable").is_some(),
        "a PodDisruptionBudget takes one of minAvailable and maxUnavailable"
    );

    // Probes on the admin listener.
    let admin = Value::from("admin");
    assert_eq!(
        container_port(pod, &admin),
        Some(u64::from(port_of(str_at(&config, "/server/admin_listen"))))
    );
    assert_eq!(gateway["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(gateway["readinessProbe"]["httpGet"]["port"], admin);
    assert_eq!(gateway["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(gateway["livenessProbe"]["httpGet"]["port"], admin);

    // The configuration comes from the ConfigMap, at the path the container is given.
    let args: Vec<&str> = gateway["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let config_path = args[args.iter().position(|a| *a == "--config").expect("--config") + 1];
    let (dir, file) = config_path.rsplit_once('/').expect("config path");
    let mount = gateway["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == dir)
        .expect("config mount");
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("config volume");
    assert_eq!(volume["configMap"]["name"], "sso-gateway-config");
    assert!(objects["ConfigMap/sso-gateway-config"]["data"].get(file).is_some());

    // Every ${VAR} comes from the Secret, whose example names each key.
    let secret = &objects["Secret/sso-gateway-secrets"]["stringData"];
    let env = gateway["env"].as_array().expect("env");
    for var in env_refs(&text) {
        let entry = env
            .iter()
            .find(|e| e["name"] == var.as_str())
            .unwrap_or_else(|| panic!("${{{var}}} not in the container's env"));
        let key = &entry["valueFrom"]["secretKeyRef"];
        assert_eq!(key["name"], "sso-gateway-secrets", "{var}");
        assert!(
            secret.get(key["key"].as_str().expect("key")).is_some(),
            "{var}: the example Secret has no {}",
            key["key"]
        );
    }

    // Hardened containers, each with requests and limits; what they mount and read
    // exists (the API server refuses what the schema lets through).
    for name in ["Deployment/sso-gateway", "Deployment/sso-gateway-redis"] {
        let pod = &objects[name]["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        let volumes = pod["volumes"].as_array().expect("volumes");
        for volume in volumes {
            if let Some(map) = volume["configMap"]["name"].as_str() {
                assert!(
                    objects.contains_key(&format!("ConfigMap/{map}")),
                    "{name}: no ConfigMap {map}"
                );
            }
        }
        for c in pod["containers"].as_array().expect("containers") {
            for mount in c["volumeMounts"].as_array().into_iter().flatten() {
                assert!(
                    volumes.iter().any(|v| v["name"] == mount["name"]),
                    "{name}: mount {} has no volume",
                    mount["name"]
                );
            }
            for entry in c["env"].as_array().into_iter().flatten() {
                if let Some(key) = entry["valueFrom"].get("secretKeyRef") {
                    let secret = format!("Secret/{}", key["name"].as_str().expect("secret name"));
                    let data = &objects.get(&secret).unwrap_or_else(|| panic!("{name}: no {secret}"))["stringData"];
                    assert!(
                        data.get(key["key"].as_str().expect("key")).is_some(),
                        "{name}: {secret} has no {}",
                        key["key"]
                    );
                }
            }
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]), "{name}");
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        c["resources"][kind].get(resource).is_some(),
                        "{name}: {kind}.{resource}"
                    );
                }
            }
        }
    }
    // With a read-only root, what the gateway writes (upgrade socket, pid file) is on
    // a writable volume.
    for key in ["upgrade_sock", "pid_file"] {
        let path = str_at(&config, &format!("/server/{key}"));
        let writable = gateway["volumeMounts"].as_array().expect("mounts").iter().any(|m| {
            let on = m["mountPath"].as_str().unwrap_or("/");
            path.starts_with(&format!("{on}/")) && m["readOnly"] != true
        });
        assert!(writable, "server.{key} = {path} is not on a writable volume");
    }

    // Draining: the pod leaves the endpoints during preStop, then the gateway keeps
    // accepting for grace_period and finishes requests within graceful_shutdown_timeout;
    // all of it must fit in terminationGracePeriodSeconds.
    let pre_stop: Vec<&str> = gateway["lifecycle"]["preStop"]["exec"]["command"]
        .as_array()
        .expect("preStop exec")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(pre_stop.first(), Some(&"sleep"), "{pre_stop:?}");
    let sleep: f64 = pre_stop[1].parse().expect("sleep seconds");
    let grace = seconds(str_at(&config, "/server/grace_period"));
    let shutdown = seconds(str_at(&config, "/server/graceful_shutdown_timeout"));
    let termination = pod["terminationGracePeriodSeconds"]
        .as_f64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        sleep + grace + shutdown < termination,
        "preStop {sleep}s + grace_period {grace}s + graceful_shutdown_timeout {shutdown}s must fit in {termination}s"
    );

    // Sessions in the Redis of redis.yaml: one replica, reached through its Service.
    assert_eq!(str_at(&config, "/sessions/store"), "redis");
    let redis_url = url::Url::parse(str_at(&config, "/sessions/redis_url")).expect("redis_url");
    let redis_svc = &objects[&format!("Service/{}", redis_url.host_str().expect("host"))];
    assert_eq!(
        redis_svc["spec"]["ports"][0]["port"].as_u64(),
        redis_url.port().map(u64::from)
    );
    let redis = &objects["Deployment/sso-gateway-redis"];
    assert_eq!(redis["spec"]["replicas"], 1);
    assert!(selects(
        &redis_svc["spec"]["selector"],
        &redis["spec"]["template"]["metadata"]["labels"]
    ));
    assert!(!selects(
        &objects["Service/sso-gateway"]["spec"]["selector"],
        &redis["spec"]["template"]["metadata"]["labels"]
    ));

    // kustomization.yaml applies every manifest but the example Secret.
    let listed: BTreeSet<&str> = objects["Kustomization/"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let files: BTreeSet<String> = k8s_files()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n != "kustomization.yaml" && n != "secret.example.yaml")
        .collect();
    assert_eq!(
        listed,
        files.iter().map(String::as_str).collect(),
        "kustomization.yaml resources"
    );
}

#[test]
fn the_kubernetes_gateway_config_passes_check_and_the_example_secret_does_not() {
    let text = k8s_gateway_toml();
    let refs = env_refs(&text);
    // The origin's Service name resolves in the cluster only: point it at loopback.
    let local = upstreams_on_loopback(&text, |host| host.parse::<std::net::IpAddr>().is_err());
    let (ok, out) = check_with(&local, &dummy_env(&refs));
    assert!(ok, "the ConfigMap's gateway.toml fails check:\n{out}");

    // The example Secret's placeholders are refused: applied by mistake, the gateway
    // does not start with them.
    let objects = k8s_objects();
    let secret = objects["Secret/sso-gateway-secrets"]["stringData"]
        .as_object()
        .expect("stringData");
    let example: Vec<(String, String)> = secret
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    assert!(
        secret
            .values()
            .all(|v| v.as_str().is_some_and(|s| s.contains("REPLACE"))),
        "placeholders, clearly marked"
    );
    let (ok, out) = check_with(&local, &example);
    assert!(
        !ok && out.contains("sessions.cookie_secret"),
        "the example Secret must not pass check:\n{out}"
    );
}
