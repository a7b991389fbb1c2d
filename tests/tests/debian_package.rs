//! The Debian package (issue 23 §4), checked the way an operator would before
//! installing it: `cargo deb` packs the binary these tests run (no release build:
//! `--no-build` on the debug profile), `dpkg-deb -x` unpacks it into a temporary
//! root, and its files are read there: the binary in `/usr/bin`, the systemd unit
//! (the deploy kit's, with the package's paths and user), the conffile
//! `/etc/sso-gateway/gateway.toml` (the minimal example, which the extracted binary's
//! `check` accepts), the `sso-gateway` user (systemd-sysusers, run by the postinst),
//! the copyright file and the changelogs. `lintian` on the `.deb` reports no error.
//! `cargo-deb` and `lintian` come from `scripts/setup.sh`.

use sso_tests::{gateway_bin, repo_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The package, built once for every test of this file, and its unpacked tree.
struct Package {
    deb: PathBuf,
    /// `dpkg-deb -x`: the files as they land on a machine.
    root: PathBuf,
    /// `dpkg-deb -e`: control, conffiles and the maintainer scripts.
    control: PathBuf,
    /// `dpkg-deb -c`: every entry with its mode and owner.
    listing: String,
}

use sso_tests::run_command as run;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo deb --no-build` with a target directory of its own whose `debug/` holds
/// (a link to) the binary these tests run: cargo-deb packs exactly that binary,
/// strips its copy, and writes nothing into the real target directory.
fn build() -> Package {
    let (ok, out) = run(Command::new(cargo()).args(["deb", "--version"]));
    assert!(ok, "cargo-deb is missing: run scripts/setup.sh\n{out}");
    remove_stale_trees();
    let dir = std::env::temp_dir().join(format!("sso-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profile_dir = dir.join("target").join("debug");
    std::fs::create_dir_all(&profile_dir).expect("temp dir");
    let bin = std::fs::canonicalize(gateway_bin()).expect("gateway binary");
    std::os::unix::fs::symlink(&bin, profile_dir.join("sso-gateway")).expect("link");
    let out_dir = dir.join("out");
    let (ok, out) = run(Command::new(cargo())
        .current_dir(repo_root())
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .args(["deb", "-p", "sso-gateway", "--no-build", "--profile", "dev"])
        .args(["--locked", "--fast", "--quiet", "-o"])
        .arg(&out_dir));
    assert!(ok, "cargo deb failed:\n{out}");
    let deb = std::fs::read_dir(&out_dir)
        .expect("cargo deb output")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {}:\n{out}", out_dir.display()));
    let (root, control) = (dir.join("root"), dir.join("control"));
    for (flag, into) in [("-x", &root), ("-e", &control)] {
        let (ok, out) = run(Command::new("dpkg-deb").arg(flag).arg(&deb).arg(into));
        assert!(ok, "dpkg-deb {flag}:\n{out}");
    }
    let (ok, listing) = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    assert!(ok, "dpkg-deb -c:\n{listing}");
    Package {
        deb,
        root,
        control,
        listing,
    }
}

/// The trees of earlier runs (`sso-deb-<pid>`, ~50 MB each) whose process has ended:
/// a static outlives every test, so each run removes its predecessors'.
fn remove_stale_trees() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("sso-deb-") else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(build)
}

impl Package {
    fn file(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn text(&self, path: &str) -> String {
        read(&self.file(path))
    }

    fn control_file(&self, name: &str) -> String {
        read(&self.control.join(name))
    }

    /// `dpkg-deb -c`'s mode and owner of `path`, e.g. `("-rwxr-xr-x", "0/0")`.
    fn entry(&self, path: &str) -> (String, String) {
        let suffix = format!(" ./{}", path.trim_start_matches('/'));
        let line = self
            .listing
            .lines()
            .find(|l| l.ends_with(&suffix))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{}", self.listing));
        let mut fields = line.split_whitespace();
        let mode = fields.next().unwrap_or_default().to_string();
        let owner = fields.next().unwrap_or_default().to_string();
        (mode, owner)
    }

    /// `check` of the extracted binary on the shipped configuration.
    fn check(&self, env: &[(&str, &str)]) -> (bool, String) {
        run(Command::new(self.file("/usr/bin/sso-gateway"))
            .arg("check")
            .arg("--config")
            .arg(self.file("/etc/sso-gateway/gateway.toml"))
            .env_remove("SSO_COOKIE_SECRET")
            .envs(env.iter().copied()))
    }
}

fn gunzip(path: &Path) -> String {
    let (ok, out) = run(Command::new("gzip").arg("-dc").arg(path));
    assert!(ok, "gzip -dc {}:\n{out}", path.display());
    out
}

/// `Version:` of the package: the crate's version and the Debian revision.
fn deb_version() -> String {
    format!("{}-1", env!("CARGO_PKG_VERSION"))
}

// ---------------------------------------------------------------- contents

#[test]
fn the_package_holds_the_binary_the_unit_the_conffile_and_the_user() {
    let p = package();
    for (path, mode) in [
        ("/usr/bin/sso-gateway", "-rwxr-xr-x"),
        ("/usr/lib/systemd/system/sso-gateway.service", "-rw-r--r--"),
        ("/usr/lib/sysusers.d/sso-gateway.conf", "-rw-r--r--"),
        // May hold secrets: root only in the archive, the postinst adds the group.
        ("/etc/sso-gateway/gateway.toml", "-rw-r-----"),
        ("/usr/share/doc/sso-gateway/copyright", "-rw-r--r--"),
        ("/usr/share/man/man1/sso-gateway.1.gz", "-rw-r--r--"),
    ] {
        assert_eq!(p.entry(path), (mode.to_string(), "0/0".into()), "{path}");
    }
    // The extracted binary is the gateway of this version.
    let (ok, out) = run(Command::new(p.file("/usr/bin/sso-gateway")).arg("--version"));
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "{out}");

    let control = p.control_file("control");
    let field = |name: &str| -> String {
        control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in control:\n{control}"))
            .to_string()
    };
    assert_eq!(field("Package"), "sso-gateway");
    assert_eq!(field("Version"), deb_version());
    let depends = field("Depends");
    assert!(depends.contains("libc6"), "{depends}");
    assert!(depends.contains("systemd-sysusers"), "{depends}");
    // Only the configuration under /etc is a conffile, so an upgrade keeps edits.
    assert_eq!(p.control_file("conffiles").trim(), "/etc/sso-gateway/gateway.toml");

    // The user: systemd-sysusers creates it from the shipped file in the postinst,
    // before the postinst hands /etc/sso-gateway to its group.
    let sysusers = p.text("/usr/lib/sysusers.d/sso-gateway.conf");
    assert!(sysusers.lines().any(|l| l.starts_with("u sso-gateway ")), "{sysusers}");
    let postinst = p.control_file("postinst");
    let creates = postinst
        .find("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} sso-gateway.conf")
        .unwrap_or_else(|| panic!("the postinst does not create the user:\n{postinst}"));
    let overrides = postinst
        .find("dpkg-statoverride --update --add root sso-gateway")
        .unwrap_or_else(|| panic!("the postinst does not set the group:\n{postinst}"));
    assert!(creates < overrides, "the group is used before it exists");
    for entry in ["0750 /etc/sso-gateway\"", "0640 /etc/sso-gateway/gateway.toml\""] {
        assert!(postinst.contains(entry), "{entry} missing:\n{postinst}");
    }
    // Installing neither enables nor starts the gateway (an example config and no
    // secret); an upgrade reloads a running one instead of restarting it.
    assert!(postinst.contains("was-enabled sso-gateway.service"), "{postinst}");
    for never in ["deb-systemd-invoke start", "deb-systemd-invoke restart", "try-restart"] {
        assert!(!postinst.contains(never), "postinst runs {never}:\n{postinst}");
    }
    assert!(postinst.contains("deb-systemd-invoke reload sso-gateway.service"));
    let prerm = p.control_file("prerm");
    assert!(prerm.contains("\"$1\" = remove"), "prerm stops on upgrade:\n{prerm}");
    let postrm = p.control_file("postrm");
    assert!(postrm.contains("dpkg-statoverride --remove"), "{postrm}");
}

#[test]
fn the_copyright_file_names_the_license_and_the_changelogs_the_version() {
    let p = package();
    let license = read(&repo_root().join("LICENSE"));
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
    let copyright = p.text("/usr/share/doc/sso-gateway/copyright");
    assert!(copyright.starts_with("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"));
    assert!(copyright.contains("\nLicense: Apache-2.0\n"), "{copyright}");
    assert!(copyright.contains("/usr/share/common-licenses/Apache-2.0"));
    assert!(copyright.contains("\nCopyright: "), "{copyright}");
    // The Debian changelog's newest entry is this version: a version bump that
    // forgets deploy/debian/changelog fails here.
    let debian = gunzip(&p.file("/usr/share/doc/sso-gateway/changelog.Debian.gz"));
    let first = debian.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("sso-gateway ({}) ", deb_version())),
        "deploy/debian/changelog starts with {first:?}, the package is {}",
        deb_version()
    );
    let upstream = gunzip(&p.file("/usr/share/doc/sso-gateway/changelog.gz"));
    assert_eq!(upstream, read(&repo_root().join("CHANGELOG.md")));
}

#[test]
fn the_man_page_names_every_command() {
    let p = package();
    let page = gunzip(&p.file("/usr/share/man/man1/sso-gateway.1.gz"));
    let (ok, help) = run(Command::new(p.file("/usr/bin/sso-gateway")).arg("--help"));
    assert!(ok, "{help}");
    // clap's "Commands:" section: two spaces, the name, its summary.
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"run"), "{help}");
    for command in commands {
        assert!(
            page.contains(&format!(".B sso-gateway {command}")),
            "deploy/debian/sso-gateway.1 does not name `{command}`"
        );
    }
}

// ---------------------------------------------------------------- configuration

#[test]
fn the_extracted_binary_checks_the_shipped_config() {
    let p = package();
    // What /etc/sso-gateway/secrets.env gives the unit.
    let (ok, out) = p.check(&[("SSO_COOKIE_SECRET", "0123456789abcdef0123456789abcdef")]);
    assert!(ok, "check refuses the shipped gateway.toml:\n{out}");
    // The package ships no secret: without one the gateway does not start.
    let (ok, out) = p.check(&[]);
    assert!(!ok, "check accepts the shipped config without a secret:\n{out}");
    assert!(out.contains("SSO_COOKIE_SECRET"), "{out}");
}

#[test]
fn the_shipped_config_is_the_minimal_example_with_the_units_paths() {
    let p = package();
    let parse = |text: &str| -> toml::Table { text.parse().expect("TOML") };
    let shipped = parse(&p.text("/etc/sso-gateway/gateway.toml"));
    assert_eq!(shipped, parse(&read(&repo_root().join("deploy/debian/gateway.toml"))));
    let mut example = parse(&read(&repo_root().join("deploy/examples/minimal.toml")));
    let unit = p.text("/usr/lib/systemd/system/sso-gateway.service");
    let pid_file = unit.lines().find_map(|l| l.strip_prefix("PIDFile=")).expect("PIDFile");
    let server = example
        .get_mut("server")
        .and_then(toml::Value::as_table_mut)
        .expect("[server]");
    server.insert("pid_file".into(), pid_file.into());
    server.insert("upgrade_sock".into(), "/run/sso-gateway/upgrade.sock".into());
    assert_eq!(
        shipped, example,
        "deploy/debian/gateway.toml is no longer deploy/examples/minimal.toml plus the unit's pid_file and upgrade_sock"
    );
}

// ---------------------------------------------------------------- systemd

/// The deploy kit's unit with what the package changes: its paths, its system user
/// (so /etc/sso-gateway can be group-readable), and an optional secrets.env (`check`
/// then names a missing variable). The header comments differ.
fn kit_unit_as_packaged() -> String {
    let kit = read(&repo_root().join("deploy/systemd/sso-gateway.service"));
    let body = &kit[kit.find("[Unit]").expect("[Unit]")..];
    body.replace("/usr/local/bin/sso-gateway", "/usr/bin/sso-gateway")
        .replace("\nDynamicUser=yes\n", "\nUser=sso-gateway\nGroup=sso-gateway\n")
        .replace(
            "\nEnvironmentFile=/etc/sso-gateway/secrets.env\n",
            "\nEnvironmentFile=-/etc/sso-gateway/secrets.env\n",
        )
        .replace(
            "\nDescription=sso-gateway single-sign-on reverse proxy\n",
            "\nDescription=sso-gateway single-sign-on reverse proxy\nDocumentation=man:sso-gateway(1)\n",
        )
}

#[test]
fn the_unit_is_the_deploy_kits_with_the_packages_paths_and_user() {
    let p = package();
    let unit = p.text("/usr/lib/systemd/system/sso-gateway.service");
    let body = &unit[unit.find("[Unit]").expect("[Unit]")..];
    assert_eq!(
        body,
        kit_unit_as_packaged(),
        "deploy/debian/sso-gateway.service drifted from deploy/systemd/sso-gateway.service"
    );
    assert!(!unit.contains("/usr/local/"), "{unit}");

    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("systemd-analyze not installed: the unit was not verified (only read)");
        return;
    }
    // verify refuses binaries that do not exist: a copy that runs the extracted one.
    let copy = p.root.join("sso-gateway.service");
    let bin = p.file("/usr/bin/sso-gateway");
    std::fs::write(&copy, unit.replace("/usr/bin/sso-gateway", &bin.to_string_lossy())).expect("write unit");
    // verify also looks the unit's Documentation= up: in the package's man pages.
    // A fixed system user instead of a dynamic one: the sandbox stays as tight as the kit's.
    let man = p.file("/usr/share/man");
    sso_tests::assert_unit_verified_and_sandboxed(analyze, &copy, &[("MANPATH", &man)]);
}

// ---------------------------------------------------------------- lintian

#[test]
fn lintian_reports_no_error() {
    let p = package();
    let (ok, out) = run(Command::new("lintian").arg("--version"));
    assert!(ok, "lintian is missing: run scripts/setup.sh\n{out}");
    // Exit status 1: a tag of error severity (or worse); 2: lintian failed.
    let (ok, out) = run(Command::new("lintian")
        .args(["--no-tag-display-limit", "--display-info"])
        .arg(&p.deb));
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
    assert!(ok, "lintian failed:\n{out}");
    // Warnings are allowed, but shown (`cargo test -- --nocapture`).
    for line in out.lines().filter(|l| l.starts_with("W: ")) {
        eprintln!("lintian: {line}");
    }
}
