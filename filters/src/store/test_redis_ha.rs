//! Real highly-available Redis deployments for the tests, on free loopback ports:
//! a primary with a replica and three sentinels ([`TestSentinel`], Debian's
//! `redis-sentinel`), and a three-primary Redis Cluster ([`TestCluster`]). Every
//! process is stopped and its directory removed when the value is dropped.

use super::test_redis::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private directory for configuration and cluster state, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(kind: &str) -> Scratch {
        let token = crate::secret::random_token();
        let dir = std::env::temp_dir().join(format!("sso-{kind}-{}", token.get(..12).unwrap_or("x")));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn(program: &str, args: &[&str], dir: &Path) -> Child {
    match Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("{program} could not start ({e}): scripts/setup.sh installs it"),
    }
}

/// `redis-cli -p port args…`'s output ("" when it fails).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn server_args(port: &str) -> Vec<&str> {
    vec![
        "--port",
        port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
}

/// The name the sentinels monitor the primary under.
pub const MASTER_NAME: &str = "ssoprimary";

/// A primary, one replica and three sentinels (quorum 2) that fail over a second
/// after the primary stops answering.
pub struct TestSentinel {
    /// The data servers' ports: the first is the primary at start.
    pub server_ports: [u16; 2],
    pub sentinel_ports: [u16; 3],
    servers: [Option<Child>; 2],
    sentinels: Vec<Option<Child>>,
    _dir: Scratch,
}

impl TestSentinel {
    pub fn start() -> TestSentinel {
        let dir = Scratch::new("sentinel");
        let (p, r) = (free_port(), free_port());
        let (ps, rs) = (p.to_string(), r.to_string());
        let primary = spawn("redis-server", &server_args(&ps), &dir.0);
        let mut replica_args = server_args(&rs);
        replica_args.extend(["--replicaof", "127.0.0.1", &ps]);
        let replica = spawn("redis-server", &replica_args, &dir.0);
        wait_for("the replica to sync", Duration::from_secs(15), || {
            cli(r, &["INFO", "replication"]).contains("master_link_status:up")
        });
        let sentinel_ports = [free_port(), free_port(), free_port()];
        let mut sentinels = Vec::new();
        for port in sentinel_ports {
            let conf = dir.0.join(format!("sentinel-{port}.conf"));
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {p} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 3000\n\
                 sentinel parallel-syncs {MASTER_NAME} 1\n",
                dir = dir.0.display()
            );
            if let Err(e) = std::fs::write(&conf, text) {
                panic!("cannot write {}: {e}", conf.display());
            }
            let conf = conf.to_string_lossy().into_owned();
            sentinels.push(Some(spawn("redis-sentinel", &[&conf], &dir.0)));
        }
        let sentinel = TestSentinel {
            server_ports: [p, r],
            sentinel_ports,
            servers: [Some(primary), Some(replica)],
            sentinels,
            _dir: dir,
        };
        // A failover needs every sentinel to know the replica and the other sentinels.
        for port in sentinel_ports {
            wait_for("the sentinels to find one another", Duration::from_secs(30), || {
                let info = cli(port, &["SENTINEL", "MASTER", MASTER_NAME]);
                let field = |name: &str| {
                    let mut lines = info.lines();
                    lines
                        .find(|l| *l == name)
                        .and_then(|_| lines.next())
                        .map(str::to_string)
                };
                field("num-slaves").as_deref() == Some("1") && field("num-other-sentinels").as_deref() == Some("2")
            });
        }
        sentinel
    }

    /// `redis+sentinel://` for the gateway.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinel_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+sentinel://{}/{MASTER_NAME}/0", hosts.join(","))
    }

    /// The port the sentinels name as the primary now.
    pub fn primary_port(&self) -> Option<u16> {
        self.sentinel_ports.iter().find_map(|port| {
            let out = cli(*port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
            out.lines().nth(1).and_then(|l| l.trim().parse().ok())
        })
    }

    /// Sets how many sentinels must agree the primary is down: above three, none can
    /// fail over (a test holds the failover back while it looks at the outage).
    pub fn set_quorum(&self, quorum: u32) {
        let q = quorum.to_string();
        for port in self.sentinel_ports {
            let answer = cli(port, &["SENTINEL", "SET", MASTER_NAME, "quorum", &q]);
            assert!(answer.trim() == "OK", "SENTINEL SET quorum {q} on {port}: {answer}");
        }
    }

    /// Stops the data server on `port` (a crash: no shutdown handshake).
    pub fn kill_server(&mut self, port: u16) {
        if let Some(i) = self.server_ports.iter().position(|p| *p == port) {
            if let Some(child) = self.servers.get_mut(i) {
                stop(child);
            }
        }
    }

    /// Waits until the replica holds everything the primary on `primary` wrote
    /// (replication is asynchronous: a write not yet copied is lost in a failover).
    pub fn wait_replicated(&self, primary: u16) {
        let offset = |port: u16, field: &str| {
            let info = cli(port, &["INFO", "replication"]);
            info.lines()
                .find_map(|l| l.trim().strip_prefix(field).map(str::to_string))
                .unwrap_or_default()
        };
        let Some(replica) = self.server_ports.iter().copied().find(|p| *p != primary) else {
            return;
        };
        wait_for("the replica to catch up", Duration::from_secs(10), || {
            let written = offset(primary, "master_repl_offset:");
            !written.is_empty() && written == offset(replica, "slave_repl_offset:")
        });
    }

    /// Waits until the sentinels name a primary other than `old` (the failover done).
    pub fn wait_failover(&self, old: u16, timeout: Duration) -> u16 {
        let mut new = None;
        wait_for("the sentinels to fail over", timeout, || {
            new = self.primary_port().filter(|p| *p != old);
            new.is_some_and(|p| cli(p, &["ROLE"]).starts_with("master"))
        });
        new.unwrap_or(old)
    }
}

impl Drop for TestSentinel {
    fn drop(&mut self) {
        for child in self.sentinels.iter_mut().chain(self.servers.iter_mut()) {
            stop(child);
        }
    }
}

/// A Redis Cluster of three primaries and no replicas (`redis-cli --cluster create`).
pub struct TestCluster {
    pub ports: Vec<u16>,
    nodes: Vec<Option<Child>>,
    _dir: Scratch,
}

impl TestCluster {
    pub fn start() -> TestCluster {
        let dir = Scratch::new("cluster");
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for port in &ports {
            let p = port.to_string();
            let conf = format!("nodes-{port}.conf");
            // The bus port defaults to port + 10000, which Redis refuses above
            // 65535 (a free port above 55535 made the node exit at start): name a
            // free one of its own.
            let bus = free_port().to_string();
            let mut args = server_args(&p);
            args.extend([
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus,
                "--cluster-config-file",
                &conf,
                "--cluster-node-timeout",
                "2000",
            ]);
            nodes.push(Some(spawn("redis-server", &args, &dir.0)));
        }
        let cluster = TestCluster {
            ports,
            nodes,
            _dir: dir,
        };
        for port in &cluster.ports {
            wait_for("a cluster node to answer", Duration::from_secs(10), || {
                cli(*port, &["PING"]).trim() == "PONG"
            });
        }
        let addrs: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            created.is_ok_and(|s| s.success()),
            "redis-cli --cluster create failed on {addrs:?}"
        );
        for port in &cluster.ports {
            wait_for("the cluster to be ok", Duration::from_secs(20), || {
                cli(*port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
        cluster
    }

    /// The `[sessions]` line that points a gateway at this cluster.
    pub fn sessions_toml(&self) -> String {
        let urls: Vec<String> = self.urls().iter().map(|u| format!("\"{u}\"")).collect();
        format!("redis_cluster = [{}]", urls.join(", "))
    }

    /// Stops node `i` (a crash: no shutdown handshake).
    pub fn kill_node(&mut self, i: usize) {
        if let Some(child) = self.nodes.get_mut(i) {
            stop(child);
        }
    }

    /// The seed URLs for `sessions.redis_cluster`.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut() {
            stop(child);
        }
    }
}
