//! The Sentinel form of `sessions.redis_url`:
//! `redis+sentinel://[[user]:password@]host1:26379,host2:26379/master_name[/db]`, or
//! `rediss+sentinel://…` for TLS to the sentinels and to the primary alike.
//!
//! - **Whose password.** The user and password in the URL are the *primary's* (the
//!   `requirepass`/ACL user of the Redis servers the sentinels watch): the gateway
//!   never sends them to a sentinel. Sentinels are asked without credentials, the way
//!   Debian's `redis-sentinel` runs by default; keep them on a private network.
//! - **Why a parser of our own.** The host part lists several `host:port`, which no
//!   URL parser accepts; the rest follows `redis://` (percent-encoded password,
//!   database number after the path).

use std::fmt;

/// Default port of a sentinel.
pub const SENTINEL_PORT: u16 = 26379;

/// A parsed `redis+sentinel://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelUrl {
    /// `rediss+sentinel://`: TLS (system roots) to the sentinels and the primary.
    pub tls: bool,
    /// The sentinels, in the order given (asked in that order).
    pub sentinels: Vec<(String, u16)>,
    /// The name the sentinels monitor the primary under (`sentinel monitor <name> …`).
    pub master_name: String,
    pub db: i64,
    /// The primary's ACL user, if any.
    pub username: Option<String>,
    /// The primary's password, if any.
    pub password: Option<String>,
}

impl fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelUrl")
            .field("tls", &self.tls)
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// True when `url` is of the Sentinel form (whether or not it is valid).
pub fn is_sentinel_url(url: &str) -> bool {
    url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://")
}

fn decode(part: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "the user or password is not UTF-8 once percent-decoded".to_string())
}

fn host_port(item: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = item.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{item:?} opens '[' without ']'"))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("{item:?} is not [host]:port"))?,
                ),
            ),
        }
    } else {
        match item.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (item, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if !host_ok {
        return Err(format!("{host:?} is not a host name or address"));
    }
    let port = match port {
        None => SENTINEL_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{p:?} is not a port")),
        },
    };
    Ok((host.to_string(), port))
}

/// Parses a `redis+sentinel://` or `rediss+sentinel://` URL; the error says what is
/// wrong, never the password.
pub fn parse_sentinel_url(url: &str) -> Result<SentinelUrl, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("redis+sentinel://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("rediss+sentinel://") {
        (true, r)
    } else {
        return Err("does not start with redis+sentinel:// or rediss+sentinel://".into());
    };
    if rest.contains(['?', '#']) {
        return Err("takes no query or fragment".into());
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            let user = (!user.is_empty()).then(|| decode(user)).transpose()?;
            let pass = (!pass.is_empty()).then(|| decode(pass)).transpose()?;
            (user, pass)
        }
    };
    if hosts.is_empty() {
        return Err("names no sentinel (host1:26379,host2:26379)".into());
    }
    let sentinels = hosts.split(',').map(host_port).collect::<Result<Vec<_>, _>>()?;
    if sentinels.len() > 32 {
        return Err("lists more than 32 sentinels".into());
    }
    let mut segments = path.split('/');
    let master_name = segments.next().unwrap_or("");
    if master_name.is_empty()
        || master_name.len() > 128
        || !master_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err("needs the monitored primary's name after the hosts (…:26379/mymaster/0)".into());
    }
    let db = match segments.next() {
        None | Some("") => 0,
        Some(d) => match d.parse::<i64>() {
            Ok(n) if (0..=1_000_000).contains(&n) => n,
            _ => return Err(format!("{d:?} is not a database number")),
        },
    };
    if segments.any(|s| !s.is_empty()) {
        return Err("has more after the database number".into());
    }
    Ok(SentinelUrl {
        tls,
        sentinels,
        master_name: master_name.to_string(),
        db,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        let u = parse_sentinel_url("redis+sentinel://:p%40ss@h1:26379,h2:26380/mymaster/2").expect("parses");
        assert!(!u.tls);
        assert_eq!(u.sentinels, vec![("h1".to_string(), 26379), ("h2".to_string(), 26380)]);
        assert_eq!(u.master_name, "mymaster");
        assert_eq!(u.db, 2);
        assert_eq!(u.username, None);
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert!(!format!("{u:?}").contains("p@ss"));
        let u = parse_sentinel_url("rediss+sentinel://app:pw@[::1],10.0.0.2/m").expect("parses");
        assert!(u.tls);
        assert_eq!(
            u.sentinels,
            vec![("::1".to_string(), 26379), ("10.0.0.2".to_string(), 26379)]
        );
        assert_eq!(u.username.as_deref(), Some("app"));
        assert_eq!(u.db, 0);
    }

    #[test]
    fn malformed_urls_are_refused_without_echoing_the_password() {
        for bad in [
            "redis://h:6379/0",
            "redis+sentinel://",
            "redis+sentinel://h1:26379",
            "redis+sentinel://h1:26379/",
            "redis+sentinel://h1:0/m",
            "redis+sentinel://h1:x/m",
            "redis+sentinel://h1:26379,/m",
            "redis+sentinel://[::1/m",
            "redis+sentinel://h 1/m",
            "redis+sentinel://h1/m/x",
            "redis+sentinel://h1/m/0/1",
            "redis+sentinel://h1/m?sentinel_password=x",
            "redis+sentinel://:secret%ff@h1/m",
            "redis+sentinel://:secret@h1/m y",
        ] {
            let e = parse_sentinel_url(bad).expect_err(bad);
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
    }
}
