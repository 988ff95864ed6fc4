//! Fidelity against real servers: tests/fidelity/real-servers.sh starts Postfix, Dovecot and
//! dnsmasq on loopback, tests/fidelity/compare.py sends the same dialogues to them and to
//! `mailsim serve`, and fails on any difference that tests/fidelity/KNOWN-DIFFERENCES.md does
//! not list. Skipped where the servers are not installed (or not as root), unless
//! MAILSIM_REQUIRE_FIDELITY=1, as .ci/run sets. Only the `--no-default-features` pass of the
//! test command runs it (tests/it/main.rs): the window changes nothing in `mailsim serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TOOLS: [&str; 3] = ["postfix", "dovecot", "dnsmasq"];

fn installed(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .any(|dir| dir.join(tool).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn sudo_works() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why the test cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    let missing: Vec<_> = TOOLS.iter().filter(|t| !installed(t)).collect();
    if !missing.is_empty() {
        return Some(format!(
            "{missing:?} not installed (apt-get install postfix dovecot-imapd dovecot-pop3d dnsmasq)"
        ));
    }
    if !is_root() && !sudo_works() {
        return Some("real-servers.sh must run as root (or with passwordless sudo)".into());
    }
    None
}

/// The real servers, stopped (and their directory removed) on drop, even after a failure.
struct RealServers {
    script: PathBuf,
    dir: PathBuf,
}

impl RealServers {
    fn start(root: &Path) -> RealServers {
        let dir = std::env::temp_dir().join(format!("mailsim-fidelity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let servers = RealServers {
            script: root.join("tests/fidelity/real-servers.sh"),
            dir,
        };
        // The daemons inherit stdout and stderr: a file, not a pipe that would never close.
        let log = servers.dir.with_extension("log");
        let status = servers.run("start", &log);
        assert!(
            status,
            "real-servers.sh start failed:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        servers
    }

    fn run(&self, what: &str, log: &Path) -> bool {
        let out = std::fs::File::create(log).unwrap();
        let mut cmd = if is_root() {
            Command::new("bash")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "bash"]);
            sudo
        };
        cmd.arg(&self.script)
            .arg(what)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for RealServers {
    fn drop(&mut self) {
        let log = self.dir.with_extension("stop.log");
        self.run("stop", &log);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(self.dir.with_extension("log"));
    }
}

#[test]
fn replies_match_postfix_dovecot_and_dnsmasq_or_are_known_differences() {
    if let Some(why) = cannot_run() {
        assert!(
            std::env::var("MAILSIM_REQUIRE_FIDELITY").as_deref() != Ok("1"),
            "MAILSIM_REQUIRE_FIDELITY=1 but the fidelity test cannot run: {why}"
        );
        eprintln!("skipped: fidelity against real servers: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _servers = RealServers::start(root);
    let out = Command::new("python3")
        .arg(root.join("tests/fidelity/compare.py"))
        .args(["--mailsim", env!("CARGO_BIN_EXE_mailsim")])
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "differences from the real servers that tests/fidelity/KNOWN-DIFFERENCES.md does not \
         list (fix mailsim, or list a deliberate one with its reason):\n{report}"
    );
}
