//! `mailsim serve` for the live-mode measurements (benches/live.rs, examples/live_load.rs):
//! started on lesson 01 with every port chosen by the system, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub smtp_port: u16,
    dir: PathBuf,
}

impl Server {
    /// Starts `binary serve` with `extra` arguments and waits until it says its SMTP port.
    pub fn start(binary: &Path, extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("mailsim-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ports = dir.join("ports.json");
        let scenario = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/01-alice-writes-to-bob.ron"
        );
        let mut command = Command::new(binary);
        command
            .args(["serve", scenario, "--format", "quiet"])
            .args(extra);
        for port in [
            "--submission-port",
            "--smtp-port",
            "--pop3-port",
            "--imap-port",
            "--dns-port",
        ] {
            command.args([port, "0"]);
        }
        let child = command
            .arg("--ports-file")
            .arg(&ports)
            .stderr(Stdio::null())
            .spawn()
            .expect("mailsim serve starts");
        let smtp_port = loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Some(p) = text
                    .lines()
                    .find(|l| l.contains("\"smtp\""))
                    .and_then(|l| l.split(':').nth(1))
                    .and_then(|v| v.trim().trim_end_matches(',').parse::<u16>().ok())
            {
                break p;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Server {
            child,
            smtp_port,
            dir,
        }
    }

    /// The server's process id (for its memory in /proc; examples/live_load.rs reads it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
