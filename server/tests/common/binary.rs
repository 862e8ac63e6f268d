//! The `kms-server` binary as a child process: started with arguments and environment (or
//! through a wrapper such as `nsenter`), its "listening on" line awaited, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server process.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    pub lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// SIGKILL: no shutdown path runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

/// The binary, run through `wrapper` (e.g. `["nsenter", "-t", "123", "-m"]`) if not empty,
/// with the environment the tests control cleared.
pub fn command_via(wrapper: &[&str], args: &[&str], envs: &[(&str, &str)]) -> Command {
    let bin = env!("CARGO_BIN_EXE_kms-server");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    for name in [
        "KMS_SERVER_ACCESS_KEYS",
        "KMS_SERVER_LISTEN",
        "KMS_SERVER_KEYRING",
        "KMS_SERVER_STORE",
        "KMS_SERVER_KEY_QUOTA",
        "KMS_KEYRING_KEY",
        "KMS_SERVER_RATE_LIMIT",
        "KMS_SERVER_REGION",
        "KMS_SERVER_INSTANCE_LISTEN",
        "KMS_SERVER_CLIENT_KEY_DIR",
        "KMS_SERVER_CLIENT_KEY_ACCOUNT",
        "KMS_SERVER_TLS_SELF_SIGNED",
    ] {
        cmd.env_remove(name);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// The binary with `args` and `envs`.
pub fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    command_via(&[], args, envs)
}

/// Spawns `cmd` and waits for its "listening on" line (http or https).
pub fn start_command(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut addr = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        let rest = line
            .strip_prefix("kms-server: listening on http://")
            .or_else(|| line.strip_prefix("kms-server: listening on https://"));
        if let Some(rest) = rest {
            addr = rest.split(' ').next().and_then(|a| a.parse().ok());
            lines.push(line);
            break;
        }
        lines.push(line);
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        let out = child.wait_with_output().ok();
        let stderr = out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
        panic!("no 'listening on' line; got {lines:?}, stderr {stderr:?}");
    };
    Running { child, addr, lines }
}

/// Starts the binary and waits for its "listening on" line.
pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Running {
    start_command(command(args, envs))
}

/// Runs `cmd` to its exit; returns (success, stderr).
pub fn run_command_to_exit(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary to its exit; returns (success, stderr).
pub fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    run_command_to_exit(command(args, envs))
}

/// The rest of the first line that starts with `prefix`.
pub fn value_after(lines: &[String], prefix: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:?}"))
        .to_owned()
}
