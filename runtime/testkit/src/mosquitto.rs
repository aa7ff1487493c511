//! Mosquitto brokers of a test's own, for what the shared broker on 1883
//! cannot show: sign-in, a broker that goes away and comes back.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A Mosquitto broker on 127.0.0.1, keeping nothing on disk, killed when
/// dropped.
pub struct Mosquitto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// A broker on `port` that admits anyone.
    pub fn anonymous(port: u16) -> Self {
        Self::start(port, |_| "allow_anonymous true\n".to_owned())
    }

    /// A broker on `port` with the configuration lines `settings` writes,
    /// given a directory of the broker's own for files they name (a
    /// password file).
    pub fn start(port: u16, settings: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\npersistence false\n{}",
                settings(dir.path())
            ),
        )
        .expect("config");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts (Debian package mosquitto)");
        let broker = Self { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return broker;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(broker);
        panic!("mosquitto did not listen on {port}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its own directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
