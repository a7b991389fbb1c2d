use super::*;

fn problems(text: &str) -> Vec<String> {
    read(text).problems.iter().map(|p| p.to_error().to_string()).collect()
}

#[test]
fn a_value_of_the_wrong_type_names_its_key_and_form() {
    assert_eq!(
        problems("[sessions]\nidle_timeout = 30\n"),
        ["sessions.idle_timeout: expected a duration string such as \"30m\", found the number 30 (line 2)"]
    );
    assert_eq!(
        problems("[server]\nlisten = \"0.0.0.0:8080\"\n"),
        ["server.listen: expected a list, in brackets even for one value: listen = [\"…\"], found a string (line 2)"]
    );
}

#[test]
fn every_key_that_does_not_fit_is_reported_and_the_rest_is_read() {
    let reading = read(
        "[server]\nthreads = \"4\"\n[sessions]\nidle_timout = \"3m\"\nabsolute_timeout = \"1h\"\n\
         [[sites]]\nname = \"a\"\nhosts = [\"a.example\", 3]\n",
    );
    let found: Vec<String> = reading.problems.iter().map(|p| p.to_error().to_string()).collect();
    assert_eq!(
        found,
        [
            "server.threads: expected a whole number, without quotes, found a string (line 2)",
            "sessions.idle_timout: unknown key, did you mean `idle_timeout`? (line 4)",
            "sites[0].hosts[1]: expected a string in quotes, found the number 3 (line 8)",
        ]
    );
    let raw = reading.raw.as_ref().expect("the rest was read");
    assert_eq!(raw.sessions.absolute_timeout.as_deref(), Some("1h"));
    assert_eq!(raw.sites[0].name.as_deref(), Some("a"));
    // The list of the wrong item went with it; validation will not call it missing.
    assert!(raw.sites[0].hosts.is_empty());
    assert!(reading.covers("sites[0].hosts") && reading.covers("sites[0].hosts[0]"));
    assert!(!reading.covers("sites[0].hostsx") && !reading.covers("sites[0].name"));
}

#[test]
fn a_syntax_error_has_its_line_column_and_excerpt_and_the_rest_is_read() {
    let text = "[sessions]\nidle_timeout = \"30m\nstore = 5\n[server]\nthreads = 2\n";
    let reading = read(text);
    let first = &reading.problems[0];
    assert_eq!(first.kind, ProblemKind::Syntax);
    assert_eq!(first.path, "line 2, column 20");
    assert_eq!(
        first.excerpt.as_deref(),
        Some("2 | idle_timeout = \"30m\n  |                    ^")
    );
    assert!(
        reading.problems[1..]
            .iter()
            .any(|p| p.to_error().to_string()
                == "sessions.store: expected a string in quotes, found the number 5 (line 3)"),
        "{:?}",
        reading.problems
    );
    assert_eq!(reading.raw.as_ref().expect("read on").server.threads, Some(2));
    assert!(reading.covers("sessions.idle_timeout"));
}

#[test]
fn a_broken_table_header_hides_what_was_read_under_it() {
    let reading = read("[sites\nname = 3\n");
    assert!(
        reading.problems[0].path.starts_with("line 1, column"),
        "{:?}",
        reading.problems
    );
    assert!(
        reading.problems.iter().all(|p| p.kind == ProblemKind::Syntax),
        "nothing under the broken header is reported twice: {:?}",
        reading.problems
    );
}

#[test]
fn reading_stops_after_many_problems() {
    let text: String = (0..300).map(|i| format!("[sessions]\nk{i} = 1\n")).collect();
    let reading = read(&text);
    assert!(reading.raw.is_none());
    assert!(reading.problems.len() <= MAX_PROBLEMS + 1);
    let many: String = (0..300).map(|i| format!("k{i} = \"x\"\n")).collect();
    let reading = read(&format!("[sessions]\n{many}"));
    assert_eq!(reading.problems.len(), MAX_PROBLEMS + 1);
    assert!(reading.problems[MAX_PROBLEMS].message.contains("fix these first"));
}
