//! Idle timeouts, write-backs and per-site timeouts, for every store: each test runs
//! against the memory store and against two replicas of the Redis store on one real
//! Redis, whose own record of the commands it ran (`MONITOR`) counts the write-backs.
//!
//! The timeouts are a few seconds; every wait is bounded, and nothing asserts how
//! fast anything is: only what is live before and after a deadline.

use super::idle::{SessionTimeouts, SiteTimeouts};
use super::memory_sessions::MemorySessionStore;
use super::suite::{live, redis_config, redis_replica_with, session, Pair};
use super::test_redis::{unique_prefix, TestRedis};
use super::{StoreError, Stores};
use crate::secret::{SessionId, Sid};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const IDLE: Duration = Duration::from_secs(2);
const ABSOLUTE: Duration = Duration::from_secs(3600);

/// Counts write-backs of one session as the backend saw them.
enum WriteBacks {
    Memory(Arc<MemorySessionStore>),
    /// Redis's `MONITOR` lines of this test's key prefix, as they arrive.
    Redis {
        lines: Arc<Mutex<Vec<String>>>,
        prefix: String,
    },
}

impl WriteBacks {
    /// The write-backs of `sid`, each with its time on Redis's clock (seconds); for
    /// memory, as many as the store counted (it is the only session of the test).
    fn of(&self, sid: &Sid) -> Vec<Option<f64>> {
        match self {
            WriteBacks::Memory(store) => vec![None; usize::try_from(store.write_backs()).unwrap_or(0)],
            WriteBacks::Redis { lines, prefix } => {
                let wanted = format!("\"PEXPIRE\" \"{prefix}:session:{}\"", sid.encode());
                let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
                lines
                    .iter()
                    .filter(|l| l.contains(&wanted))
                    .map(|l| l.trim_start_matches('+').split(' ').next()?.parse().ok())
                    .collect()
            }
        }
    }
}

/// Starts a `MONITOR` of the Redis at `port`, collecting what it prints.
async fn monitor(port: u16, prefix: &str) -> WriteBacks {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => panic!("MONITOR connection: {e}"),
    };
    if let Err(e) = stream.write_all(b"MONITOR\r\n").await {
        panic!("MONITOR: {e}");
    }
    let sink = lines.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Ok(mut all) = sink.lock() {
                all.push(line);
            }
        }
    });
    WriteBacks::Redis {
        lines,
        prefix: prefix.to_string(),
    }
}

/// Both stores with `idle` for every site, and what counts their write-backs.
async fn stores_with(redis: bool, idle: Duration) -> (Pair, WriteBacks) {
    let timeouts = || SessionTimeouts::uniform(idle, ABSOLUTE);
    if !redis {
        let store = Arc::new(MemorySessionStore::with_timeouts(timeouts(), 1000).with_max_per_customer(2));
        let mut a = Stores::memory(MemorySessionStore::new(idle, 1), 1000);
        a.sessions = store.clone();
        let pair = Pair {
            b: a.clone(),
            a,
            _redis: None,
            _cluster: None,
        };
        return (pair, WriteBacks::Memory(store));
    }
    let server = TestRedis::shared();
    let prefix = unique_prefix();
    let counter = monitor(server.port, &prefix).await;
    // L1 copies may live longer than a write-back window: they must not be trusted
    // past it.
    let config = || super::redis::sessions::RedisSessionsConfig {
        timeouts: timeouts(),
        l1_ttl: Duration::from_secs(10),
        ..redis_config(false)
    };
    let pair = Pair {
        a: redis_replica_with(&server.url, &prefix, config()).await,
        b: redis_replica_with(&server.url, &prefix, config()).await,
        _redis: Some(server),
        _cluster: None,
    };
    (pair, counter)
}

/// A request of the session's site on `stores`: the hot path, else the store.
async fn used(stores: &Stores, sid: &Sid) -> bool {
    match stores.sessions.cached(sid) {
        Some(_) => true,
        None => matches!(stores.sessions.get(sid).await, Ok(Some(_))),
    }
}

/// Only a look: never a use.
async fn looked(stores: &Stores, sid: &Sid) -> bool {
    matches!(stores.sessions.fresh(sid).await, Ok(Some(_)))
}

/// Waits up to `limit` until `sid` is over on both replicas (looking, not using).
async fn over_within(p: &Pair, sid: &Sid, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !looked(&p.a, sid).await && !looked(&p.b, sid).await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_unused_session_is_over_on_every_replica(redis: bool) -> Result<(), StoreError> {
    let (p, _) = stores_with(redis, IDLE).await;
    let id = p.a.sessions.create(session("shop", "ann", 3600)).await?;
    let sid = Sid::of(&id);
    assert!(used(&p.b, &sid).await, "B reads it (and holds it in L1)");
    tokio::time::sleep(IDLE).await;
    assert!(
        over_within(&p, &sid, Duration::from_secs(3)).await,
        "over after its idle timeout"
    );
    assert!(
        p.b.sessions.cached(&sid).is_none(),
        "B's L1 copy is not served past its deadline"
    );
    assert!(
        !used(&p.a, &sid).await && !used(&p.b, &sid).await,
        "a use cannot revive it"
    );
    Ok(())
}

async fn a_session_in_use_on_alternating_replicas_lives_on(redis: bool) -> Result<(), StoreError> {
    let idle = Duration::from_secs(4);
    let (p, writes) = stores_with(redis, idle).await;
    let id = p.a.sessions.create(session("shop", "bea", 3600)).await?;
    let sid = Sid::of(&id);
    let until = Instant::now() + idle * 5 / 2;
    let mut on_a = false;
    while Instant::now() < until {
        on_a = !on_a;
        let replica = if on_a { &p.a } else { &p.b };
        assert!(
            used(replica, &sid).await,
            "in use, yet ended (on {})",
            if on_a { "A" } else { "B" }
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!writes.of(&sid).is_empty(), "its uses were written back");
    Ok(())
}

async fn a_use_is_written_back_at_most_once_per_window(redis: bool) -> Result<(), StoreError> {
    let idle = Duration::from_secs(4);
    let window = idle / 10;
    let (p, writes) = stores_with(redis, idle).await;
    let id = p.a.sessions.create(session("shop", "cid", 3600)).await?;
    let sid = Sid::of(&id);
    let started = Instant::now();
    let hammer = |stores: Stores| async move {
        for _ in 0..200 {
            assert!(used(&stores, &sid).await);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::join!(hammer(p.a.clone()), hammer(p.b.clone()), hammer(p.a.clone()));
    let elapsed = started.elapsed();
    // Redis's MONITOR lines may arrive a little after the commands.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let times = writes.of(&sid);
    let most = elapsed.as_millis() / window.as_millis();
    assert!(!times.is_empty(), "uses over {elapsed:?} wrote back at least once");
    assert!(
        times.len() as u128 <= most,
        "{} write-backs in {elapsed:?}",
        times.len()
    );
    // On Redis, its own clock: no two write-backs less than a window apart.
    for pair in times.windows(2) {
        if let [Some(first), Some(next)] = pair {
            let gap = next - first;
            assert!(
                gap >= window.as_secs_f64() - 0.002,
                "write-backs {gap} s apart: {times:?}"
            );
        }
    }
    Ok(())
}

async fn looking_keeps_no_session_alive(redis: bool) -> Result<(), StoreError> {
    let (p, writes) = stores_with(redis, IDLE).await;
    let id = p.a.sessions.create(session("shop", "dee", 3600)).await?;
    let sid = Sid::of(&id);
    let deadline = Instant::now() + IDLE * 3;
    while looked(&p.b, &sid).await && Instant::now() < deadline {
        looked(&p.a, &sid).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        over_within(&p, &sid, Duration::from_secs(1)).await,
        "looked at all along, yet over"
    );
    assert!(writes.of(&sid).is_empty(), "a look is never written back");
    Ok(())
}

async fn a_reload_applies_to_sessions_already_held(redis: bool) -> Result<(), StoreError> {
    let (p, _) = stores_with(redis, Duration::from_secs(600)).await;
    let set = |idle: u64, absolute: Duration| {
        let t = SiteTimeouts {
            idle: Duration::from_secs(idle),
            absolute,
        };
        p.a.sessions.timeouts().set_site("shop", t);
        p.b.sessions.timeouts().set_site("shop", t);
    };
    // Shorter: the next use brings the session under the new idle timeout.
    let id = p.a.sessions.create(session("shop", "eli", 3600)).await?;
    let sid = Sid::of(&id);
    assert!(used(&p.b, &sid).await);
    set(2, ABSOLUTE);
    assert!(used(&p.b, &sid).await, "still live at the reload");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        over_within(&p, &sid, Duration::from_secs(3)).await,
        "over 2 s after its last use"
    );
    // Longer: the next write-back gives the longer one.
    let id = p.a.sessions.create(session("shop", "fay", 3600)).await?;
    let sid = Sid::of(&id);
    set(20, ABSOLUTE);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(used(&p.b, &sid).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        looked(&p.a, &sid).await && looked(&p.b, &sid).await,
        "lengthened by its use"
    );
    // A shorter absolute timeout ends sessions older than it at once, everywhere.
    assert!(used(&p.a, &sid).await && used(&p.b, &sid).await);
    set(20, Duration::from_secs(1));
    assert!(over_within(&p, &sid, Duration::from_secs(3)).await);
    assert!(p.b.sessions.cached(&sid).is_none() && !used(&p.a, &sid).await);
    Ok(())
}

async fn an_idled_out_session_takes_no_place_under_the_cap(redis: bool) -> Result<(), StoreError> {
    let (p, _) = stores_with(redis, IDLE).await;
    // The older one is kept in use; the newer one idles out.
    let kept = p.b.sessions.create(session("shop", "gus", 3600)).await?;
    let idle_one = p.a.sessions.create(session("shop", "gus", 3600)).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while live_look(&p, &idle_one).await && Instant::now() < deadline {
        assert!(used(&p.a, &Sid::of(&kept)).await, "kept in use");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!live_look(&p, &idle_one).await, "the unused one idled out");
    let newest = p.a.sessions.create(session("shop", "gus", 3600)).await?;
    assert!(live(&p.b, &kept).await, "the cap ends no live session for a dead one");
    assert!(live(&p.a, &newest).await);
    Ok(())
}

async fn live_look(p: &Pair, id: &SessionId) -> bool {
    looked(&p.a, &Sid::of(id)).await
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> Result<(), super::StoreError> { super::$name(false).await })*
        }
        mod on_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> Result<(), super::StoreError> { super::$name(true).await })*
        }
    };
}

on_every_store!(
    an_unused_session_is_over_on_every_replica,
    a_session_in_use_on_alternating_replicas_lives_on,
    a_use_is_written_back_at_most_once_per_window,
    looking_keeps_no_session_alive,
    a_reload_applies_to_sessions_already_held,
    an_idled_out_session_takes_no_place_under_the_cap,
);
