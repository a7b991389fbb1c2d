//! `${ENV_VAR}` substitution in configuration strings.

/// Replaces each `${NAME}` with the variable's value. `$$` stays a literal `$`.
/// Returns the names of variables that are not set (or not valid UTF-8). An error
/// never quotes the value: it may be a secret written in place (a generated secret
/// that happens to contain `${`).
pub fn expand(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err("has an unclosed \"${\" (the value is not shown; write a literal $ as $$)".into());
            };
            let name = &body[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(
                    "has a \"${…}\" that is not an environment variable name (the value is not shown; write a literal $ as $$)"
                        .into(),
                );
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(format!("environment variable {name} is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn substitutes_and_names_missing() {
        assert_eq!(expand("a${SECRET}b", env), Ok("as3cr3tb".into()));
        assert_eq!(expand("cost $$5 or $x", env), Ok("cost $5 or $x".into()));
        assert_eq!(
            expand("${MISSING}", env),
            Err("environment variable MISSING is not set".into())
        );
        for leaky in ["Zq9${Kp2-VerySecret", "adm${in-tok-SECRETPART}en"] {
            let e = expand(leaky, env).expect_err("refused");
            assert!(!e.contains("Kp2") && !e.contains("SECRETPART"), "{e}");
        }
    }
}
