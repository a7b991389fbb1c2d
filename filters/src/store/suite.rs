//! One test suite for every store: each test runs against the memory stores and
//! against two "replicas" of the Redis stores on one real Redis (for memory, both
//! replicas are the same process).

use super::redis::sessions::RedisSessionsConfig;
use super::redis::RedisTarget;
use super::test_redis::{unique_prefix, TestRedis};
use super::test_redis_ha::TestCluster;
use super::{StoreError, Stores};
use crate::identity::Customer;
use crate::secret::{SessionId, Sid};
use crate::sessions::{RefreshState, SessionData};
use crate::store::memory_sessions::MemorySessionStore;
use sso_config::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_secs(600);
const CAP: usize = 2;

/// Two views of one backend, and what keeps the backend alive.
pub(crate) struct Pair {
    pub(crate) a: Stores,
    pub(crate) b: Stores,
    pub(crate) _redis: Option<TestRedis>,
    pub(crate) _cluster: Option<TestCluster>,
}

fn memory() -> Pair {
    let store = MemorySessionStore::new(IDLE, 1000).with_max_per_customer(CAP);
    let a = Stores::memory(store, 1000);
    Pair {
        b: a.clone(),
        a,
        _redis: None,
        _cluster: None,
    }
}

pub(crate) fn redis_config(fail_closed: bool) -> RedisSessionsConfig {
    RedisSessionsConfig {
        timeouts: super::idle::SessionTimeouts::uniform(IDLE, Duration::from_secs(3600)),
        l1_ttl: Duration::from_secs(5),
        l1_max_entries: 1000,
        max_per_customer: CAP,
        fail_closed,
        seal: super::record::Seal::from_secret(&Secret::new("suite-cookie-secret-0123456789abcdef")),
    }
}

/// A Redis store with its background tasks running, once it is healthy.
pub(crate) async fn redis_replica(url: &str, prefix: &str, fail_closed: bool) -> Stores {
    redis_replica_with(url, prefix, redis_config(fail_closed)).await
}

/// [`redis_replica`] with a configuration of the test's own.
pub(crate) async fn redis_replica_with(url: &str, prefix: &str, config: RedisSessionsConfig) -> Stores {
    redis_replica_at(&RedisTarget::Url(url.to_string()), prefix, config).await
}

/// [`redis_replica_with`] on any Redis deployment (one server, Sentinel, Cluster).
pub(crate) async fn redis_replica_at(target: &RedisTarget, prefix: &str, config: RedisSessionsConfig) -> Stores {
    let hook: super::redis::ErrorHook = Arc::new(|_, _| {});
    let (stores, tasks) = match Stores::redis(target, prefix, config, hook) {
        Ok(s) => s,
        Err(e) => panic!("redis store: {e}"),
    };
    let conn = tasks.conn.clone();
    tokio::spawn(tasks.run());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !conn.is_healthy() {
        assert!(Instant::now() < deadline, "Redis store never became healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the eviction subscription settle.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stores
}

async fn redis() -> Pair {
    let server = TestRedis::shared();
    let prefix = unique_prefix();
    Pair {
        a: redis_replica(&server.url, &prefix, false).await,
        b: redis_replica(&server.url, &prefix, false).await,
        _redis: Some(server),
        _cluster: None,
    }
}

/// Two replicas on a real three-primary Redis Cluster of the test's own.
async fn redis_cluster() -> Pair {
    let cluster = TestCluster::start();
    let prefix = unique_prefix();
    let target = RedisTarget::Cluster(cluster.urls());
    Pair {
        a: redis_replica_at(&target, &prefix, redis_config(false)).await,
        b: redis_replica_at(&target, &prefix, redis_config(false)).await,
        _redis: None,
        _cluster: Some(cluster),
    }
}

pub(crate) fn session(site: &str, customer: &str, ttl: u64) -> SessionData {
    SessionData::new(
        site.into(),
        Customer {
            id: customer.into(),
            email: Some(format!("{customer}@example.com")),
            ..Customer::default()
        },
        None,
        RefreshState::new(Some(Secret::new("rt-1")), Some(300), Duration::from_secs(60)),
        ttl,
    )
}

pub(crate) async fn live(stores: &Stores, id: &SessionId) -> bool {
    matches!(stores.sessions.get(&Sid::of(id)).await, Ok(Some(_)))
}

/// Waits up to a second for `cond` (an eviction crossing replicas).
pub(crate) async fn within_a_second<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn sessions_are_shared_and_end_everywhere(p: Pair) -> Result<(), StoreError> {
    let id = p.a.sessions.create(session("shop", "alice", 3600)).await?;
    let sid = Sid::of(&id);
    let on_b = p.b.sessions.get(&sid).await?.expect("replica B sees the session");
    assert_eq!(on_b.customer.id, "alice");
    assert!(p.b.sessions.cached(&sid).is_some(), "B now holds it in L1");
    assert!(p.a.sessions.get(&Sid::of(&SessionId::random())).await?.is_none());
    assert!(p.a.sessions.remove(&sid).await?);
    assert!(!p.a.sessions.remove(&sid).await?, "already gone");
    assert!(
        within_a_second(|| async { p.b.sessions.cached(&sid).is_none() }).await,
        "B's L1 dropped it within a second"
    );
    assert!(p.b.sessions.get(&sid).await?.is_none());
    Ok(())
}

async fn expired_sessions_are_never_served(p: Pair) -> Result<(), StoreError> {
    let id = p.a.sessions.create(session("shop", "bob", 0)).await?;
    assert!(!live(&p.a, &id).await);
    assert!(!live(&p.b, &id).await);
    Ok(())
}

async fn the_oldest_session_over_the_cap_ends(p: Pair) -> Result<(), StoreError> {
    let first = p.a.sessions.create(session("shop", "carol", 3600)).await?;
    let other_site = p.a.sessions.create(session("outlet", "carol", 3600)).await?;
    let _second = p.b.sessions.create(session("shop", "carol", 3600)).await?;
    assert!(live(&p.b, &first).await, "B caches the first session");
    let _third = p.a.sessions.create(session("shop", "carol", 3600)).await?;
    assert!(
        within_a_second(|| async { !live(&p.b, &first).await }).await,
        "the oldest ended on both replicas"
    );
    assert!(live(&p.a, &other_site).await, "another site's sessions do not count");
    assert_eq!(p.b.sessions.customer_sessions("shop", "carol").await?.len(), CAP);
    Ok(())
}

async fn support_lists_and_ends_a_customers_sessions(p: Pair) -> Result<(), StoreError> {
    let one = p.a.sessions.create(session("shop", "dave", 3600)).await?;
    let two = p.b.sessions.create(session("shop", "dave", 3600)).await?;
    let eve = p.a.sessions.create(session("shop", "eve", 3600)).await?;
    assert!(live(&p.a, &two).await && live(&p.b, &one).await, "cached on both");
    let listed = p.b.sessions.customer_sessions("shop", "dave").await?;
    assert_eq!(listed.len(), 2);
    let mut sids: Vec<String> = listed.iter().map(|m| m.sid.clone()).collect();
    sids.sort();
    let mut want = vec![Sid::of(&one).encode(), Sid::of(&two).encode()];
    want.sort();
    assert_eq!(sids, want);
    assert!(listed
        .iter()
        .all(|m| m.created_at <= m.last_seen && m.last_seen < m.expires_at));
    assert!(p.a.sessions.customer_sessions("outlet", "dave").await?.is_empty());
    assert_eq!(p.a.sessions.end_customer_sessions("shop", "dave").await?, 2);
    assert!(
        within_a_second(|| async { !live(&p.a, &one).await && !live(&p.b, &two).await && !live(&p.b, &one).await })
            .await,
        "ended on every replica"
    );
    assert!(live(&p.b, &eve).await, "another customer keeps theirs");
    assert_eq!(p.b.sessions.end_customer_sessions("shop", "dave").await?, 0);
    Ok(())
}

async fn a_saved_refresh_is_what_the_next_reader_gets(p: Pair) -> Result<(), StoreError> {
    let id = p.a.sessions.create(session("shop", "frank", 3600)).await?;
    let sid = Sid::of(&id);
    let b_copy = p.b.sessions.get(&sid).await?.expect("on B");
    let fresh = p.a.sessions.fresh(&sid).await?.expect("fresh on A");
    assert!(fresh.refresh.claim());
    fresh.refresh.finish(Some(Secret::new("rt-2")), Some(300));
    p.a.sessions.save(&sid, &fresh).await?;
    let on_b = p.b.sessions.fresh(&sid).await?.expect("fresh on B");
    assert_eq!(
        on_b.refresh.token().map(|t| t.expose().to_string()).as_deref(),
        Some("rt-2")
    );
    drop(b_copy);
    // A saved session that ended meanwhile is not brought back.
    p.b.sessions.remove(&sid).await?;
    p.a.sessions.save(&sid, &fresh).await?;
    assert!(p.a.sessions.fresh(&sid).await?.is_none());
    Ok(())
}

async fn single_use_entries_have_exactly_one_taker(p: Pair) -> Result<(), StoreError> {
    let ttl = Duration::from_secs(60);
    p.a.single_use.put("login", "s1", b"one".to_vec(), ttl).await?;
    assert_eq!(p.b.single_use.take("login", "s2").await?, None);
    assert_eq!(p.b.single_use.take("login", "s1").await?.as_deref(), Some(&b"one"[..]));
    assert_eq!(p.a.single_use.take("login", "s1").await?, None, "taken once");
    for round in 0..20 {
        let key = format!("race-{round}");
        p.a.single_use.put("login", &key, vec![round], ttl).await?;
        let (x, y) = tokio::join!(p.a.single_use.take("login", &key), p.b.single_use.take("login", &key));
        let winners = [x?, y?].iter().filter(|t| t.is_some()).count();
        assert_eq!(winners, 1, "round {round}");
    }
    p.a.single_use
        .put("login", "short", vec![1], Duration::from_millis(50))
        .await?;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(p.b.single_use.take("login", "short").await?, None, "expired");
    Ok(())
}

async fn records_lock_exactly_one_holder(p: Pair) -> Result<(), StoreError> {
    let ttl = Duration::from_secs(60);
    assert!(p.a.records.put_new("lock", "k", b"a".to_vec(), ttl).await?);
    assert!(!p.b.records.put_new("lock", "k", b"b".to_vec(), ttl).await?);
    assert!(
        !p.b.records.delete_if("lock", "k", b"b").await?,
        "only the holder releases"
    );
    assert_eq!(p.b.records.get("lock", "k").await?.as_deref(), Some(&b"a"[..]));
    assert!(p.a.records.delete_if("lock", "k", b"a").await?);
    assert!(
        p.b.records
            .put_new("lock", "k", b"b".to_vec(), Duration::from_millis(50))
            .await?
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(p.a.records.get("lock", "k").await?, None, "a lock expires");
    assert!(p.a.records.put_new("lock", "k", b"a".to_vec(), ttl).await?);
    p.a.records.put("data", "k", b"v".to_vec(), ttl).await?;
    assert_eq!(p.b.records.get("data", "k").await?.as_deref(), Some(&b"v"[..]));
    Ok(())
}

async fn sets_keep_every_member_until_full(p: Pair) -> Result<(), StoreError> {
    let ttl = Duration::from_secs(60);
    assert!(p.a.sets.members("links", "s").await?.is_empty());
    assert!(p.a.sets.add("links", "s", "shop-a s1", ttl, 3).await?);
    assert!(p.b.sets.add("links", "s", "shop-b s2", ttl, 3).await?);
    assert!(
        p.b.sets.add("links", "s", "shop-b s2", ttl, 3).await?,
        "adding twice is fine"
    );
    assert!(p.a.sets.add("links", "s", "shop-c s3", ttl, 3).await?);
    assert!(
        !p.a.sets.add("links", "s", "shop-d s4", ttl, 3).await?,
        "full: refused, nothing dropped"
    );
    let mut members = p.b.sets.members("links", "s").await?;
    members.sort();
    assert_eq!(members, ["shop-a s1", "shop-b s2", "shop-c s3"]);
    p.b.sets.remove("links", "s", "shop-b s2").await?;
    assert_eq!(p.a.sets.members("links", "s").await?.len(), 2);
    // Racing adds on two replicas lose nothing.
    let (x, y) = tokio::join!(
        p.a.sets.add("links", "r", "x", ttl, 10),
        p.b.sets.add("links", "r", "y", ttl, 10)
    );
    assert!(x? && y?);
    assert_eq!(p.a.sets.members("links", "r").await?.len(), 2);
    p.a.sets.delete("links", "s").await?;
    assert!(p.b.sets.members("links", "s").await?.is_empty());
    // A short-lived member does not shorten the set; the set expires after the longest.
    p.a.sets
        .add("links", "t", "long", Duration::from_millis(400), 10)
        .await?;
    p.a.sets
        .add("links", "t", "short", Duration::from_millis(10), 10)
        .await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(p.b.sets.members("links", "t").await?.len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.b.sets.members("links", "t").await?.is_empty(), "expired");
    Ok(())
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test] async fn $name() -> Result<(), super::StoreError> { super::$name(super::memory()).await })*
        }
        mod on_redis {
            $(#[tokio::test] async fn $name() -> Result<(), super::StoreError> { super::$name(super::redis().await).await })*
        }
        mod on_redis_cluster {
            $(#[tokio::test] async fn $name() -> Result<(), super::StoreError> { super::$name(super::redis_cluster().await).await })*
        }
    };
}

on_every_store!(
    sessions_are_shared_and_end_everywhere,
    expired_sessions_are_never_served,
    the_oldest_session_over_the_cap_ends,
    support_lists_and_ends_a_customers_sessions,
    a_saved_refresh_is_what_the_next_reader_gets,
    single_use_entries_have_exactly_one_taker,
    records_lock_exactly_one_holder,
    sets_keep_every_member_until_full,
);

/// Redis stopped: L1 keeps serving (or not, with `fail_closed`), everything else fails
/// cleanly; Redis back: everything works, with no restart.
#[tokio::test]
async fn redis_down_and_back() -> Result<(), StoreError> {
    let mut server = TestRedis::own();
    let prefix = unique_prefix();
    let open = redis_replica(&server.url, &prefix, false).await;
    let closed = redis_replica(&server.url, &prefix, true).await;
    let id = open.sessions.create(session("shop", "gina", 3600)).await?;
    let sid = Sid::of(&id);
    assert!(
        closed.sessions.get(&sid).await?.is_some(),
        "cached on the fail-closed replica"
    );
    server.stop();
    let healthy = |s: &Stores| s.sessions.cached(&sid).is_some();
    let deadline = Instant::now() + Duration::from_secs(5);
    while healthy(&closed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!healthy(&closed), "fail_closed refuses L1 entries while Redis is down");
    assert!(healthy(&open), "L1 serves the session while Redis is down");
    assert!(matches!(
        open.sessions.create(session("shop", "hal", 3600)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(open
        .single_use
        .put("login", "x", vec![1], Duration::from_secs(60))
        .await
        .is_err());
    assert!(closed.sessions.get(&sid).await.is_err());

    server.start();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open.sessions.create(session("shop", "hal", 3600)).await {
            Ok(new) => {
                assert!(live(&closed, &new).await, "the new session is seen everywhere");
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("Redis back, yet: {e}"),
        }
    }
    Ok(())
}

/// A stored value that is not a session record sealed for its handle (another
/// version, garbage, a record copied from another key, one written without the cookie
/// secret) is an anonymous shopper, never an error page and never someone's identity.
#[tokio::test]
async fn unreadable_records_are_anonymous() -> Result<(), StoreError> {
    let server = TestRedis::shared();
    let prefix = unique_prefix();
    let stores = redis_replica(&server.url, &prefix, false).await;
    let sid = Sid::of(&SessionId::random());
    let key = format!("{prefix}:session:{}", sid.encode());
    let client = redis::Client::open(server.url.as_str()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    // A record sealed for another handle (copied from a real session) is refused too.
    let real = stores.sessions.create(session("shop", "ida", 3600)).await?;
    let real_key = format!("{prefix}:session:{}", Sid::of(&real).encode());
    let copied: Vec<u8> = redis::cmd("GET")
        .arg(&real_key)
        .query_async(&mut conn)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let unsealed = super::record::encode(&session("shop", "mallory", 3600))?;
    for junk in [
        &b""[..],
        b"\x02abc",
        b"\x01\xff\xff\xff\xff\xff",
        b"not a record",
        &copied,
        &unsealed,
    ] {
        redis::cmd("SET")
            .arg(&key)
            .arg(junk)
            .arg("PX")
            .arg(60_000)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        assert!(stores.sessions.get(&sid).await?.is_none(), "{junk:?}");
    }
    Ok(())
}
