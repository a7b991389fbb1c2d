//! The operations kit's monitoring files: the Prometheus alerting rules
//! (`deploy/prometheus/alerts.yml`) pass `promtool check rules` and their unit tests
//! (`alerts_test.yml`), the Grafana dashboard (`deploy/grafana/sso-gateway.json`) is a
//! model Grafana's importer takes, and every metric and label either one uses is one a
//! running gateway exports (checked against a live scrape after real sign-ins).
//! promtool comes from Debian's `prometheus` package (`scripts/setup.sh`).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sso_tests::group::{Group, GroupOptions, HOSTS};
use sso_tests::{repo_root, Shopper};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const ALERTS: &str = "deploy/prometheus/alerts.yml";
const ALERT_TESTS: &str = "deploy/prometheus/alerts_test.yml";
const DASHBOARD: &str = "deploy/grafana/sso-gateway.json";
const METRICS_SOURCE: &str = "gateway/src/metrics/mod.rs";

/// Families with no series after the traffic of [`scrape_after_traffic`], checked
/// against the metrics source instead (see
/// [`every_metric_and_label_used_is_one_the_gateway_exports`]).
const NOT_IN_THE_SCRAPE: [&str; 5] = [
    "sso_gateway_idp_errors_total",
    "sso_gateway_provisioning_hook_duration_seconds",
    "sso_gateway_provisioning_hook_errors_total",
    "sso_gateway_store_errors_total",
    "sso_gateway_certificate_expiry_timestamp_seconds",
];

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(repo_root().join(path)).with_context(|| path.to_string())
}

/// Runs promtool with `args`, failing with its output when it fails.
fn promtool(args: &[&str]) -> Result<()> {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo_root())
        .output()
        .context("promtool (Debian package prometheus; scripts/setup.sh installs it)")?;
    if !out.status.success() {
        bail!(
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests() -> Result<()> {
    let rules = alert_rules(&read(ALERTS)?);
    assert!(rules.len() >= 8, "{} rules read", rules.len());
    for rule in rules {
        for key in ["for:", "severity:", "summary:", "description:"] {
            assert!(rule.text.contains(key), "{} has no {key}", rule.name);
        }
        // A label the aggregation dropped renders as an empty string.
        for label in template_labels(&rule.text) {
            for (by, _) in by_clauses(&rule.expr) {
                assert!(
                    by.contains(&label),
                    "{}: $labels.{label} is not kept by `by ({by:?})`",
                    rule.name
                );
            }
        }
    }
    promtool(&["check", "rules", ALERTS])?;
    promtool(&["test", "rules", ALERT_TESTS])
}

/// GitHub's anchor for a Markdown heading: lower case, spaces to `-`, punctuation
/// other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_troubleshooting_link_lands_on_a_section() -> Result<()> {
    let guide = read("docs/troubleshooting.md")?;
    let sections: BTreeSet<String> = guide
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(anchor)
        .collect();
    let mut links = 0;
    for file in [ALERTS, ALERT_TESTS, "docs/monitoring.md", "docs/operations.md"] {
        let text = read(file)?;
        for (at, _) in text.match_indices("troubleshooting.md#") {
            let target: String = text[at + "troubleshooting.md#".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            assert!(
                sections.contains(&target),
                "{file}: no section #{target} in docs/troubleshooting.md"
            );
            links += 1;
        }
    }
    assert!(links >= 8, "the alerts point at the guide ({links} links)");
    assert_eq!(
        anchor("IdP `invalid_client` and other code-exchange errors"),
        "idp-invalid_client-and-other-code-exchange-errors"
    );
    Ok(())
}

#[test]
fn the_dashboard_is_a_model_grafana_imports() -> Result<()> {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)?)?;
    for key in ["title", "uid", "refresh"] {
        assert!(dashboard[key].as_str().is_some_and(|s| !s.is_empty()), "{key} missing");
    }
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    assert!(dashboard["version"].is_u64());
    assert!(dashboard["time"]["from"].is_string() && dashboard["time"]["to"].is_string());
    assert!(dashboard["tags"].as_array().is_some_and(|t| !t.is_empty()));
    let variables = dashboard["templating"]["list"].as_array().context("templating.list")?;
    let variable = |name: &str| variables.iter().find(|v| v["name"] == name);
    let datasource = variable("datasource").context("no datasource variable")?;
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let site = variable("site").context("no site variable")?;
    assert_eq!(site["type"], "query");
    assert_eq!(site["query"]["query"], "label_values(sso_gateway_requests_total, site)");
    assert_eq!(site["multi"], true);
    assert_eq!(site["includeAll"], true);
    assert_eq!(site["datasource"]["uid"], "${datasource}");

    let panels = dashboard["panels"].as_array().context("panels")?;
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(u64, [u64; 4])> = Vec::new();
    let mut exprs = Vec::new();
    for panel in panels {
        let id = panel["id"].as_u64().context("panel without a numeric id")?;
        assert!(ids.insert(id), "panel id {id} used twice");
        let kind = panel["type"].as_str().unwrap_or_default();
        assert!(
            ["row", "timeseries", "stat", "bargauge", "table"].contains(&kind),
            "panel {id}: type {kind:?}"
        );
        assert!(
            panel["title"].as_str().is_some_and(|t| !t.is_empty()),
            "panel {id}: no title"
        );
        let pos = &panel["gridPos"];
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| pos[k].as_u64().unwrap_or(u64::MAX));
        assert!(
            h > 0 && w > 0 && x + w <= 24 && y != u64::MAX,
            "panel {id}: gridPos {pos}"
        );
        for (other, [oh, ow, ox, oy]) in &boxes {
            let apart = x + w <= *ox || ox + ow <= x || y + h <= *oy || oy + oh <= y;
            assert!(apart, "panel {id} overlaps panel {other}");
        }
        boxes.push((id, [h, w, x, y]));
        if kind == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "panel {id}");
        let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
        let mut ref_ids = BTreeSet::new();
        for target in targets.with_context(|| format!("panel {id}: no targets"))? {
            let expr = target["expr"].as_str().filter(|e| !e.is_empty());
            let expr = expr.with_context(|| format!("panel {id}: a target without expr"))?;
            let ref_id = target["refId"].as_str().filter(|r| !r.is_empty());
            let ref_id = ref_id.with_context(|| format!("panel {id}: a target without refId"))?;
            assert!(ref_ids.insert(ref_id), "panel {id}: refId {ref_id} twice");
            assert_eq!(target["datasource"]["uid"], "${datasource}", "panel {id}");
            // Ranges follow the panel's resolution.
            for range in expr.split('[').skip(1) {
                assert!(range.starts_with("$__rate_interval]"), "panel {id}: {expr}");
            }
            exprs.push(expr.to_string());
        }
    }
    // Every query is PromQL: promtool parses them as recording rules.
    let rules: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = e.replace("$__rate_interval", "5m").replace("$site", ".*");
            format!("      - record: dashboard:query{i}\n        expr: {}\n", Value::from(e))
        })
        .collect();
    let dir = std::env::temp_dir().join("sso-gateway-tests");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("dashboard-rules-{}.yml", std::process::id()));
    std::fs::write(
        &file,
        format!("groups:\n  - name: dashboard\n    rules:\n{}", rules.concat()),
    )?;
    let checked = promtool(&["check", "rules", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    checked
}

/// Every metric the alerts and the dashboard use is exported, with the labels used.
/// The names are checked against a scrape of a gateway that served a group of shops:
/// an IdP sign-in, a one-time-token sign-in, a bad API token, a refused
/// request-target, a spoofed identity header, a rate-limited callback and a dead
/// origin. Families that still have no series fall back to the metrics source:
/// `sso_gateway_idp_errors_total` (the test IdP answers every call),
/// `sso_gateway_provisioning_hook_*` (no hook in the group), `sso_gateway_store_errors_total`
/// (memory store: only Redis fails) and `sso_gateway_certificate_expiry_timestamp_seconds`
/// (plain HTTP, no certificate). The prometheus crate leaves a family without series
/// out of the scrape entirely, `# HELP` line included.
#[tokio::test]
async fn every_metric_and_label_used_is_one_the_gateway_exports() -> Result<()> {
    let source = read(METRICS_SOURCE)?;
    let labels = labels_from_source(&source);
    assert!(labels.len() >= 20, "{labels:?}");

    let scrape = scrape_after_traffic().await?;
    let scraped = scraped_labels(&scrape);
    let mut help = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(name) = line.strip_prefix("# HELP ").and_then(|l| l.split(' ').next()) {
            help.insert(name.to_string());
        }
    }
    // The source's label sets are the scrape's: the parse of the source is right.
    for (name, seen) in &scraped {
        let declared = labels
            .get(name)
            .with_context(|| format!("{name} scraped, not in the source"))?;
        assert!(
            seen.is_subset(declared),
            "{name}: scraped {seen:?}, declared {declared:?}"
        );
    }

    let alerts = read(ALERTS)?;
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)?)?;
    let mut queries: Vec<(String, String)> = alert_rules(&alerts)
        .into_iter()
        .map(|r| (format!("alert {}", r.name), r.expr))
        .collect();
    let mut legends = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default().to_string();
            let legend = target["legendFormat"].as_str().unwrap_or_default().to_string();
            legends.push((expr.clone(), legend));
            queries.push((format!("panel {:?}", panel["title"]), expr));
        }
    }
    let mut variables = Vec::new();
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        // label_values(metric, label)
        let query = variable["query"]["query"].as_str().unwrap_or_default();
        if let Some((metric, label)) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.split_once(','))
        {
            variables.push((metric.trim().to_string(), label.trim().to_string()));
            queries.push((format!("variable {}", variable["name"]), metric.trim().to_string()));
        }
    }

    // Names: the whole alerts file (descriptions name metrics too) and every query.
    let mut used = metric_names(&alerts);
    for (_, expr) in &queries {
        used.extend(metric_names(expr));
    }
    let mut fallback = Vec::new();
    for name in &used {
        if scraped.contains_key(name) || help.contains(name) {
            continue;
        }
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name} is used by the alerts or the dashboard but the gateway does not export it"
        );
        fallback.push(name.clone());
    }
    // The fallback stays the exception the doc comment names: a family that stops
    // showing up in the scrape is news.
    for name in &fallback {
        assert!(
            NOT_IN_THE_SCRAPE.contains(&name.as_str()),
            "{name} has no series after the group's traffic"
        );
    }

    // Labels: in selectors, kept by aggregations, shown in legends.
    let has = |name: &str, label: &str, bucket: bool| {
        TARGET_LABELS.contains(&label)
            || (bucket && label == "le")
            || labels.get(name).is_some_and(|l| l.contains(label))
    };
    for (place, expr) in &queries {
        for (name, bucket, selected) in selectors(expr) {
            for label in selected {
                assert!(
                    has(&name, &label, bucket),
                    "{place}: {name} has no label {label}: {expr}"
                );
            }
        }
        for (by, scope) in by_clauses(expr) {
            let inside: Vec<(String, bool)> = selectors(&scope).into_iter().map(|(n, b, _)| (n, b)).collect();
            if inside.is_empty() {
                continue; // not a gateway metric (up)
            }
            for label in by {
                assert!(
                    inside.iter().any(|(n, b)| has(n, &label, *b)),
                    "{place}: `by ({label})` over {inside:?}: {expr}"
                );
            }
        }
    }
    for (metric, label) in &variables {
        assert!(has(metric, label, false), "label_values({metric}, {label})");
    }
    for (expr, legend) in &legends {
        let names: Vec<(String, bool)> = selectors(expr).into_iter().map(|(n, b, _)| (n, b)).collect();
        for label in legend.split("{{").skip(1).filter_map(|s| s.split("}}").next()) {
            assert!(
                names.iter().any(|(n, b)| has(n, label.trim(), *b)),
                "legend {legend:?} of {expr}"
            );
        }
    }
    Ok(())
}

/// A group of shops on one gateway, after traffic that makes most families appear.
async fn scrape_after_traffic() -> Result<String> {
    let mut group = Group::start(GroupOptions {
        server: "rate_limits = { callback = 1 }",
        ..GroupOptions::default()
    })?;
    group.ready().await?;
    group.sign_in_traffic().await?;
    let stranger = Shopper::new(&HOSTS)?;
    // shop-d does not link to the auth host, so its pages answer at once.
    let spoofed = stranger
        .http
        .get(group.url("shop-d", "/"))
        .header("x-customer-id", "admin")
        .send()
        .await?;
    assert_eq!(spoofed.status(), 200);
    assert_eq!(stranger.api(&group.url("shop-a", "/api%2forders")).await?.status(), 400);
    // Past `callback = 1`: the second callback of this client on shop-c is refused.
    let callback = group.url("shop-c", "/login/sso/callback?code=x&state=y");
    stranger.page(&callback).await?;
    assert_eq!(stranger.page(&callback).await?.status(), 429);
    // The origin goes away: 502 and an origin error.
    group.origin.proc.child.kill()?;
    group.origin.proc.child.wait()?;
    assert_eq!(stranger.page(&group.url("shop-d", "/")).await?.status(), 502);
    Ok(group.a.metrics().await)
}

/// One alerting rule of alerts.yml: its name, expression and whole text.
struct AlertRule {
    name: String,
    expr: String,
    text: String,
}

/// The rules of a rules file written as alerts.yml is: `- alert:` starts a rule, and
/// `expr:` is one line or a `|` block of deeper lines.
fn alert_rules(yaml: &str) -> Vec<AlertRule> {
    let mut rules: Vec<AlertRule> = Vec::new();
    let mut in_expr: Option<usize> = None;
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            rules.push(AlertRule {
                name: name.trim().to_string(),
                expr: String::new(),
                text: String::new(),
            });
            in_expr = None;
            continue;
        }
        let Some(rule) = rules.last_mut() else { continue };
        if trimmed.starts_with('#') {
            continue; // the next rule's comment
        }
        rule.text.push_str(line);
        rule.text.push('\n');
        match in_expr {
            Some(at) if indent > at || trimmed.is_empty() => {
                rule.expr.push_str(trimmed);
                rule.expr.push('\n');
                continue;
            }
            _ => in_expr = None,
        }
        if let Some(expr) = trimmed.strip_prefix("expr:") {
            match expr.trim() {
                "|" | "|-" | ">" | ">-" => in_expr = Some(indent),
                one_line => rule.expr = one_line.to_string(),
            }
        }
    }
    rules
}

/// `$labels.x` in a rule's templates.
fn template_labels(text: &str) -> BTreeSet<String> {
    text.split("$labels.")
        .skip(1)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The label names of each metric, from where `Maker` (or `IntGauge::new`) is given the
/// name: the first `&[...]` after a name literal, before the next one, is its labels.
fn labels_from_source(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut labels = BTreeMap::new();
    let parts: Vec<&str> = source.split("\"sso_gateway_").skip(1).collect();
    for part in parts {
        let Some((rest, after)) = part.split_once('"') else {
            continue;
        };
        let name = format!("sso_gateway_{rest}");
        let set = after
            .split_once("&[")
            .and_then(|(_, list)| list.split_once(']'))
            .map(|(list, _)| {
                list.split(',')
                    .map(|l| l.trim().trim_matches('"').to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        labels.insert(name, set);
    }
    labels
}

/// Family names and label names of the scraped series.
fn scraped_labels(scrape: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in scrape.lines().filter(|l| l.starts_with("sso_gateway_")) {
        for (name, _, labels) in selectors(line) {
            families
                .entry(name)
                .or_default()
                .extend(labels.into_iter().filter(|l| l != "le"));
        }
    }
    families
}

/// `sso_gateway_` names in `text`, without the `_bucket`/`_sum`/`_count` of a histogram.
fn metric_names(text: &str) -> BTreeSet<String> {
    selectors(text).into_iter().map(|(name, _, _)| name).collect()
}

/// Each `sso_gateway_` name in `text`: its family name, whether it was a `_bucket`
/// series, and the label names of the `{...}` right after it.
fn selectors(text: &str) -> Vec<(String, bool, Vec<String>)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("sso_gateway_") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &text[at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len());
        let raw = &rest[..len];
        let mut name = raw.to_string();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(stripped) = raw.strip_suffix(suffix) {
                name = stripped.to_string();
            }
        }
        let labels = rest[len..].strip_prefix('{').map(matcher_labels).unwrap_or_default();
        found.push((name, raw.ends_with("_bucket"), labels));
    }
    found
}

/// Label names of the matchers in `s` (just after `{`), up to the closing `}`:
/// `a="x", b!~"y|z"`. Quoted values may hold anything but an unescaped quote.
fn matcher_labels(s: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut label = String::new();
        while let Some(c) = chars.peek().copied().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            label.push(c);
            chars.next();
        }
        if label.is_empty() {
            return labels;
        }
        labels.push(label);
        while chars.peek().is_some_and(|c| *c != '"') {
            chars.next();
        }
        chars.next();
        let mut escaped = false;
        for c in chars.by_ref() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => break,
                _ => escaped = false,
            }
        }
    }
}

/// Each `by (...)`/`without (...)` of an aggregation with the labels it names and what
/// it aggregates: the parenthesised argument right after it (`sum by (x) (...)`), or
/// the whole expression when it is written after the argument.
fn by_clauses(expr: &str) -> Vec<(BTreeSet<String>, String)> {
    let mut clauses = Vec::new();
    for keyword in [" by", " without"] {
        for (at, _) in expr.match_indices(keyword) {
            let rest = expr[at + keyword.len()..].trim_start();
            let Some(list) = rest.strip_prefix('(') else { continue };
            let Some((list, after)) = list.split_once(')') else {
                continue;
            };
            let by = list
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            let scope = after
                .trim_start()
                .strip_prefix('(')
                .and_then(|inner| balanced(inner).map(str::to_string))
                .unwrap_or_else(|| expr.to_string());
            clauses.push((by, scope));
        }
    }
    clauses
}

/// The text of `s` up to the `)` that closes an already opened `(`.
fn balanced(s: &str) -> Option<&str> {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn the_parsers_of_this_file_read_what_they_are_given() {
    let expr = "sum by (site, le) (rate(sso_gateway_request_duration_seconds_bucket{site=~\"a,b\", x!=\"\\\"\"}[5m])) / on() sum(up)";
    let s = selectors(expr);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, "sso_gateway_request_duration_seconds");
    assert!(s[0].1);
    assert_eq!(s[0].2, ["site", "x"]);
    let by = by_clauses(expr);
    assert_eq!(by.len(), 1);
    assert_eq!(by[0].0, BTreeSet::from(["site".to_string(), "le".to_string()]));
    assert!(by[0].1.starts_with("rate(") && by[0].1.ends_with("[5m])"));
    let source = "m.counter(\n\"sso_gateway_a_total\",\n\"help\",\n&[\"site\", \"x\"],\n)?;\nIntGauge::new(\"sso_gateway_b\", \"h\")?;\nm.gauges(\"sso_gateway_c\", \"h\", &[\"version\"])";
    let labels = labels_from_source(source);
    assert_eq!(labels["sso_gateway_a_total"].len(), 2);
    assert!(labels["sso_gateway_b"].is_empty());
    assert!(labels["sso_gateway_c"].contains("version"));
    let rules = alert_rules(
        "    rules:\n      - alert: A\n        expr: |\n          x\n          > 1\n        for: 1m\n      - alert: B\n        expr: up == 0\n",
    );
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].expr, "x\n> 1\n");
    assert_eq!(rules[1].expr, "up == 0");
}
