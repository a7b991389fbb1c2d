//! Where the Redis stores send their commands: one server, the primary the sentinels
//! name, or a Redis Cluster ([`RedisTarget`]), behind one connection type
//! ([`RedisConnection`]) that every store calls the same way
//! (`cmd.query_async(&mut conn)`, `script.invoke_async(&mut conn)`).
//!
//! - **One server** (`redis://`, `rediss://`): a `ConnectionManager` (multiplexed,
//!   reconnects by itself).
//! - **Sentinel** (`redis+sentinel://`): the sentinels are asked for the primary (the
//!   `redis` crate checks that it says `ROLE master`), and a `ConnectionManager` to that
//!   address is used until it stops answering or stops being the primary; then the
//!   sentinels are asked again ([`super::RedisConn::run_health`]).
//! - **Cluster** (`sessions.redis_cluster`): the `redis` crate's cluster connection,
//!   which learns the slots from the seed nodes, routes each command by its key and
//!   follows `MOVED`/`ASK` and failovers by itself.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use sso_config::redis_sentinel::{is_sentinel_url, parse_sentinel_url, SentinelUrl};

/// Where the shared store is, as configured.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// `sessions.redis_url`: one server, or (`redis+sentinel://`) a primary watched by
    /// sentinels.
    Url(String),
    /// `sessions.redis_cluster`: seed nodes of a Redis Cluster.
    Cluster(Vec<String>),
}

/// How the stores reach Redis, as [`super::RedisConn`] holds it.
pub(super) enum Backend {
    Single(Box<redis::Client>),
    Sentinel(Box<tokio::sync::Mutex<redis::sentinel::SentinelClient>>),
    Cluster {
        client: Box<redis::cluster::ClusterClient>,
        /// The seed nodes, for the eviction subscription (classic pub/sub reaches
        /// every node of a cluster, so any one of them will do).
        nodes: Vec<redis::Client>,
    },
}

fn config_error(key: &str, e: impl std::fmt::Display) -> super::StoreError {
    super::StoreError::Unavailable(format!("{key}: {e}"))
}

fn sentinel_client(url: &SentinelUrl) -> redis::RedisResult<redis::sentinel::SentinelClient> {
    use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
    let addrs = url.sentinels.iter().map(|(host, port)| {
        if url.tls {
            redis::ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: false,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(host.clone(), *port)
        }
    });
    let mut builder =
        SentinelClientBuilder::new(addrs, &url.master_name, SentinelServerType::Master)?.set_client_to_redis_db(url.db);
    if url.tls {
        builder = builder
            .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
    }
    if let Some(user) = &url.username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = &url.password {
        builder = builder.set_client_to_redis_password(password);
    }
    builder.build()
}

impl Backend {
    /// Checks the configuration only; nothing connects.
    pub(super) fn new(target: &RedisTarget) -> Result<Backend, super::StoreError> {
        match target {
            RedisTarget::Url(url) if is_sentinel_url(url) => {
                let parsed = parse_sentinel_url(url).map_err(|e| config_error("sessions.redis_url", e))?;
                let client = sentinel_client(&parsed).map_err(|e| config_error("sessions.redis_url", e))?;
                Ok(Backend::Sentinel(Box::new(tokio::sync::Mutex::new(client))))
            }
            RedisTarget::Url(url) => redis::Client::open(url.as_str())
                .map(|c| Backend::Single(Box::new(c)))
                .map_err(|e| config_error("sessions.redis_url", e)),
            RedisTarget::Cluster(urls) => {
                let client = redis::cluster::ClusterClient::builder(urls.iter().map(String::as_str))
                    .connection_timeout(super::CONNECT_TIMEOUT)
                    .response_timeout(super::RESPONSE_TIMEOUT)
                    .retries(2)
                    .build()
                    .map_err(|e| config_error("sessions.redis_cluster", e))?;
                let nodes = urls
                    .iter()
                    .map(|u| redis::Client::open(u.as_str()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| config_error("sessions.redis_cluster", e))?;
                Ok(Backend::Cluster {
                    client: Box::new(client),
                    nodes,
                })
            }
        }
    }

    /// `single`, `sentinel` or `cluster` (a metric label).
    pub(super) fn mode(&self) -> &'static str {
        match self {
            Backend::Single(_) => "single",
            Backend::Sentinel(_) => "sentinel",
            Backend::Cluster { .. } => "cluster",
        }
    }
}

/// `host:port` of a client, never its credentials.
pub(super) fn address_of(client: &redis::Client) -> String {
    client.get_connection_info().addr().to_string()
}

/// A connection to whatever the stores use: cheap to clone, and a
/// [`redis::aio::ConnectionLike`], so commands, pipelines and scripts run on it as on
/// any `redis` connection.
#[derive(Clone)]
pub enum RedisConnection {
    /// One server, or the current primary of a Sentinel deployment.
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Server(c) => c.req_packed_command(cmd),
            RedisConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Server(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Server(c) => c.get_db(),
            RedisConnection::Cluster(c) => c.get_db(),
        }
    }
}

/// True when a `ROLE` reply says `master`.
pub(super) fn is_primary_role(reply: &Value) -> bool {
    match reply {
        Value::Array(items) => {
            matches!(
                items.first(),
                Some(Value::BulkString(role)) if role.as_slice() == b"master"
            ) || matches!(items.first(), Some(Value::SimpleString(role)) if role == "master")
        }
        _ => false,
    }
}

/// The health check of a cluster: `PING` to each primary that `CLUSTER NODES` lists,
/// one by one by address. The crate's own all-primaries `PING` answers while a
/// primary it cannot reach holds slots, so requests for those slots fail while
/// `/readyz` says ready; asking each by address fails at once instead.
pub(super) async fn ping_every_primary(cluster: &mut ClusterConnection) -> Result<(), String> {
    use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(cluster)
        .await
        .map_err(|e| e.to_string())?;
    let primaries = cluster_primaries(&nodes);
    if primaries.is_empty() {
        return Err("CLUSTER NODES lists no primary".into());
    }
    for (host, port) in primaries {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: host.clone(),
            port,
        });
        cluster
            .route_command(redis::cmd("PING"), routing)
            .await
            .map_err(|e| format!("primary {host}:{port}: {e}"))?;
    }
    Ok(())
}

/// `(host, port)` of every primary holding slots in a `CLUSTER NODES` answer (lines
/// `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slots…>`).
fn cluster_primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, flags) = (fields.get(1)?, fields.get(2)?);
            if !flags.split(',').any(|f| f == "master") || flags.contains("noaddr") || fields.len() < 9 {
                return None;
            }
            let host_port = address.split(['@', ',']).next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            Some((host.trim_matches(['[', ']']).to_string(), port.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod cluster_nodes_tests {
    use super::cluster_primaries;

    #[test]
    fn primaries_with_slots_are_read_from_cluster_nodes() {
        let answer = "\
07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected
e7d1 127.0.0.1:30001@31001,host-a myself,master - 0 0 1 connected 0-5460
67ed 127.0.0.1:30002@31002 master,fail - 1426238316232 1426238315000 2 disconnected 5461-10922
292f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
aaaa :0@0 master,noaddr - 0 0 0 disconnected
bbbb 127.0.0.1:30009@31009 master - 0 0 9 connected
";
        assert_eq!(
            cluster_primaries(answer),
            vec![
                ("127.0.0.1".to_string(), 30001),
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30003),
            ]
        );
    }
}
