//! The health behind `/readyz` on a Redis Cluster follows every primary: one that
//! stops answering makes the store unavailable at the next check, before the cluster
//! itself notices (`cluster_state:fail`), since requests for its slots fail already.

use super::{ErrorHook, RedisConn, RedisTarget};
use crate::store::test_redis::unique_prefix;
use crate::store::test_redis_ha::TestCluster;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_cluster_primary_down_is_redis_down() {
    let mut cluster = TestCluster::start();
    // Seeds that leave the third node out: it is still checked.
    let seeds = cluster.urls()[..2].to_vec();
    let hook: ErrorHook = Arc::new(|_, _| {});
    let conn = match RedisConn::new(&RedisTarget::Cluster(seeds), &unique_prefix(), hook) {
        Ok(c) => c,
        Err(e) => panic!("cluster: {e}"),
    };
    let checking = conn.clone();
    let task = tokio::spawn(async move { checking.run_health().await });
    wait_until(|| conn.is_healthy(), "the cluster never became healthy").await;
    cluster.kill_node(2);
    wait_until(|| !conn.is_healthy(), "a dead primary left the store healthy").await;
    task.abort();
}
