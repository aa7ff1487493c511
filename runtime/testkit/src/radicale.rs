//! Radicale CalDAV servers of a test's own, for the actuator's calendar
//! integration: a real server that checks what it is sent, that signs
//! users in and can be stopped.
//!
//! The `radicale` command is `STEWARD_RADICALE`, which `ops/dev/tools.sh`
//! exports after installing a pinned Radicale from PyPI into a virtual
//! environment of its own (`ops/dev/test` does both).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user every test server knows.
pub const RADICALE_USER: &str = "alice";

/// Her password.
pub const RADICALE_PASSWORD: &str = "alice-password";

/// How long a server may take to start listening: Python starts slowly on
/// a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A Radicale server on 127.0.0.1 with its storage in a temporary
/// directory, killed when dropped. It knows one user, [`RADICALE_USER`]
/// with [`RADICALE_PASSWORD`] (a plain htpasswd file), and lets each user
/// reach only their own collections (`owner_only`).
pub struct Radicale {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Radicale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Radicale")
            .field("port", &self.port)
            .finish()
    }
}

impl Radicale {
    /// A server listening on `port` (panics, pointing at `ops/dev/test`,
    /// if `STEWARD_RADICALE` is not set).
    pub fn start(port: u16) -> Self {
        let radicale = PathBuf::from(std::env::var_os("STEWARD_RADICALE").unwrap_or_else(|| {
            panic!(
                "STEWARD_RADICALE is not set: run the tests with ops/dev/test, which installs \
                 Radicale (ops/dev/tools.sh) and exports it"
            )
        }));
        let dir = tempfile::tempdir().expect("tempdir");
        let users = dir.path().join("users");
        std::fs::write(&users, format!("{RADICALE_USER}:{RADICALE_PASSWORD}\n")).expect("users");
        let config = dir.path().join("radicale.conf");
        std::fs::write(
            &config,
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n\
                 htpasswd_encryption = plain\ndelay = 0\n\n\
                 [rights]\ntype = owner_only\n\n\
                 [storage]\nfilesystem_folder = {storage}\n\n\
                 [web]\ntype = none\n\n\
                 [logging]\nlevel = warning\n",
                users = users.display(),
                storage = dir.path().join("collections").display(),
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.path().join("radicale.log")).expect("log file");
        let child = Command::new(&radicale)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", radicale.display()));
        let mut server = Self { child, port, dir };
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("radicale exited ({status}):\n{}", server.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = server.log();
        drop(server);
        panic!("radicale did not listen on {port}:\n{log}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its root URL, `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Its own directory (configuration, users, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("radicale.log")).unwrap_or_default()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
