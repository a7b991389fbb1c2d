//! A real Redis for the store tests: the one on 127.0.0.1:6379 when it answers (each
//! test with its own key prefix), else a `redis-server` started on a free port and
//! stopped when the test ends. [`TestRedis::own`] always starts one, for fault tests
//! that stop and restart it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRedis {
    pub url: String,
    pub port: u16,
    child: Option<Child>,
}

fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl TestRedis {
    /// The machine's Redis, or one of our own.
    pub fn shared() -> TestRedis {
        if answers(6379) {
            return TestRedis {
                url: "redis://127.0.0.1:6379/0".into(),
                port: 6379,
                child: None,
            };
        }
        Self::own()
    }

    /// No server: the test brings another deployment (Sentinel, Cluster).
    pub fn absent() -> TestRedis {
        TestRedis {
            url: String::new(),
            port: 0,
            child: None,
        }
    }

    /// A `redis-server` of this test's own.
    pub fn own() -> TestRedis {
        let mut r = TestRedis {
            url: String::new(),
            port: free_port(),
            child: None,
        };
        r.url = format!("redis://127.0.0.1:{}/0", r.port);
        r.start();
        r
    }

    /// (Re)starts our own server on its port.
    pub fn start(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!("redis-server could not start ({e}): scripts/setup.sh installs it"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops our own server (a fault).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("test-{}", crate::secret::random_token().get(..12).unwrap_or("x"))
}
