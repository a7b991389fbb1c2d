use super::*;
use crate::identity::Customer;
fn session(site: &str, customer: &str, ttl: u64) -> SessionData {
    SessionData::new(
        site.into(),
        Customer {
            id: customer.into(),
            ..Customer::default()
        },
        None,
        Default::default(),
        ttl,
    )
}

fn data(ttl: u64) -> SessionData {
    session("shop", "alice", ttl)
}

fn live(store: &MemorySessionStore, id: &SessionId) -> bool {
    store.lookup(&Sid::of(id)).is_some()
}

#[test]
fn create_get_remove() {
    let store = MemorySessionStore::new(Duration::from_secs(60), 10);
    let id = store.insert(data(3600));
    let sid = Sid::of(&id);
    assert_eq!(store.lookup(&sid).map(|s| s.customer.id.clone()), Some("alice".into()));
    assert!(store.lookup(&Sid::of(&SessionId::random())).is_none());
    assert_eq!(store.count(), 1);
    assert!(store.delete(&sid));
    assert!(!store.delete(&sid), "already gone");
    assert!(store.lookup(&sid).is_none());
    assert_eq!(store.count(), 0);
    assert_eq!(store.index_len(), 0, "the index forgets an ended session");
}

#[test]
fn absolute_and_idle_expiry() {
    let store = MemorySessionStore::new(Duration::from_secs(60), 10);
    let expired = store.insert(data(0));
    assert!(
        !live(&store, &expired),
        "a session past its absolute expiry is not served"
    );
    let idle = MemorySessionStore::new(Duration::ZERO, 10);
    let id = idle.insert(data(3600));
    assert!(!live(&idle, &id), "a session idle for idle_timeout is not served");
    // Housekeeping frees expired entries once moka's timer wheel passes them
    // (about a second): then they leave the count and the per-customer index.
    let deadline = Instant::now() + Duration::from_secs(10);
    for s in [&store, &idle] {
        while s.count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(s.count(), 0);
        assert_eq!(s.index_len(), 0, "an expired session leaves the index");
    }
}

#[test]
fn moka_follows_the_deadline_a_write_back_moved_and_reads_leave_it() {
    let epoch = Instant::now();
    let expiry = SessionExpiry { epoch };
    let sid = Sid::of(&SessionId::random());
    let entry = |idle_ms: u64, deadline| {
        Arc::new(Held {
            data: Arc::new(data(3600)),
            deadline,
            idle_until: AtomicU64::new(idle_ms),
        })
    };
    let near = entry(60_000, Some(epoch + Duration::from_secs(3600)));
    assert_eq!(
        expiry.expire_after_create(&sid, &near, epoch),
        Some(Duration::from_secs(60))
    );
    let later = epoch + Duration::from_secs(30);
    let left = Some(Duration::from_secs(30));
    assert_eq!(
        expiry.expire_after_read(&sid, &near, later, left, epoch),
        left,
        "a read that finds the deadline where it was leaves it"
    );
    near.idle_until.store(90_000, Ordering::Release);
    assert_eq!(
        expiry.expire_after_read(&sid, &near, later, left, epoch),
        Some(Duration::from_secs(60)),
        "a read after a write-back moves moka's expiry to the new deadline"
    );
    let capped = entry(60_000, Some(epoch + Duration::from_secs(10)));
    assert_eq!(
        expiry.expire_after_create(&sid, &capped, epoch),
        Some(Duration::from_secs(10)),
        "the absolute expiry when it comes first"
    );
    assert_eq!(
        expiry.expire_after_create(&sid, &entry(u64::MAX, None), epoch),
        None,
        "beyond an Instant: never"
    );
    // Timeouts too far off for an Instant (or for moka) are "never", not a panic.
    let store = MemorySessionStore::new(Duration::MAX, 10);
    let id = store.insert(data(u64::MAX));
    assert!(live(&store, &id));
    assert!(store.touch(&Sid::of(&id)).is_some());
}

#[test]
fn only_a_use_writes_back_and_only_once_a_window() {
    // 10 s idle: a window is one second.
    let store = MemorySessionStore::new(Duration::from_secs(10), 10);
    let id = store.insert(data(3600));
    let sid = Sid::of(&id);
    for _ in 0..50 {
        assert!(store.touch(&sid).is_some());
        assert!(store.lookup(&sid).is_some());
    }
    assert_eq!(store.write_backs(), 0, "within the first window: the creation stands");
    let before = store.idle_deadline(&sid).expect("live");
    std::thread::sleep(Duration::from_millis(1_100));
    for _ in 0..20 {
        assert!(store.lookup(&sid).is_some());
    }
    assert_eq!(store.write_backs(), 0, "looking is no use");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = &store;
            move || {
                for _ in 0..50 {
                    store.touch(&sid);
                }
            }
        })
        .collect();
    std::thread::scope(|s| {
        for t in threads {
            s.spawn(t);
        }
    });
    assert_eq!(store.write_backs(), 1, "one write-back, however many uses at once");
    assert!(store.idle_deadline(&sid).expect("live") > before, "moved later");
}

#[test]
fn the_bound_evicts_the_least_recently_used() {
    let store = MemorySessionStore::new(Duration::from_secs(60), 3);
    let ids: Vec<_> = (0..3)
        .map(|i| store.insert(session("shop", &format!("c{i}"), 3600)))
        .collect();
    store.count();
    assert!(live(&store, &ids[0]), "the oldest session was used just now");
    store.count();
    let newest = store.insert(session("shop", "c3", 3600));
    assert_eq!(store.count(), 3);
    assert!(live(&store, &newest), "a new session is always admitted");
    assert!(live(&store, &ids[0]), "recently used: kept");
    assert!(!live(&store, &ids[1]), "least recently used: evicted");
    assert!(live(&store, &ids[2]));
    assert_eq!(store.index_len(), 3, "the evicted customer left the index");

    // A flood of sign-ins never locks out the next shopper.
    for i in 0..50 {
        store.insert(session("shop", &format!("flood{i}"), 3600));
    }
    let shopper = store.insert(session("shop", "real", 3600));
    assert!(live(&store, &shopper));
    assert!(store.count() <= 3);
    assert!(store.index_len() <= 3);
}

#[test]
fn a_customer_holds_at_most_max_per_customer_sessions_per_site() {
    let store = MemorySessionStore::new(Duration::from_secs(60), 100).with_max_per_customer(2);
    let first = store.insert(session("shop", "alice", 3600));
    let other_site = store.insert(session("outlet", "alice", 3600));
    let bob = store.insert(session("shop", "bob", 3600));
    let second = store.insert(session("shop", "alice", 3600));
    assert!(live(&store, &first) && live(&store, &second));
    let third = store.insert(session("shop", "alice", 3600));
    assert!(!live(&store, &first), "the oldest session ends at once");
    assert!(live(&store, &second) && live(&store, &third));
    assert!(live(&store, &other_site), "another site's sessions do not count");
    assert!(live(&store, &bob), "another customer's sessions do not count");
    let fourth = store.insert(session("shop", "alice", 3600));
    assert!(!live(&store, &second));
    assert!(live(&store, &third) && live(&store, &fourth));
    assert_eq!(store.count(), 4);

    // Ending a session frees its place: no other session is ended for the next.
    assert!(store.delete(&Sid::of(&third)));
    let fifth = store.insert(session("shop", "alice", 3600));
    assert!(live(&store, &fourth) && live(&store, &fifth));
}

#[test]
fn concurrent_sign_ins_and_evictions_neither_deadlock_nor_leak() {
    let store = Arc::new(MemorySessionStore::new(Duration::from_secs(60), 16).with_max_per_customer(2));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let id = store.insert(session("shop", &format!("c{}", (i + t) % 7), 3600));
                    if i % 3 == 0 {
                        store.delete(&Sid::of(&id));
                    }
                    store.lookup(&Sid::of(&id));
                }
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().is_ok(), "a worker panicked");
    }
    assert!(store.count() <= 16);
    assert!(
        store.index_len() <= store.count(),
        "every index line names a live session"
    );
    let listed: usize = store.by_customer.iter().map(|l| l.len()).sum();
    assert_eq!(listed, store.count(), "the index lists exactly the stored sessions");
}
