//! A mail server of a test's own, for the mail integration: Dovecot for
//! IMAP and aiosmtpd for SMTP, both real servers from Debian and PyPI.
//!
//! Dovecot keeps every user's mail in a Maildir under a temporary
//! directory and signs any user in with [`MAIL_PASSWORD`]. aiosmtpd takes
//! whatever it is sent and delivers it into the Maildir of
//! [`MAIL_RECIPIENT`], so that a mail Steward sends can be read back over
//! IMAP as that user, as the person it went to would.
//!
//! Dovecot is `STEWARD_DOVECOT` (default `/usr/sbin/dovecot`, from Debian's
//! `dovecot-imapd`), aiosmtpd is `STEWARD_AIOSMTPD` (`ops/dev/tools.sh`
//! installs both; `ops/dev/test` exports them). Dovecot refuses to read
//! mail as root: run as root, it reads it as its `dovecot` user, and the
//! directory is handed to that user.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The password every user has.
pub const MAIL_PASSWORD: &str = "mail-password";

/// The user whose Maildir the SMTP server delivers into.
pub const MAIL_RECIPIENT: &str = "dana";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Dovecot (IMAP, no TLS) and aiosmtpd (SMTP, no TLS) on 127.0.0.1, with
/// their mail in a temporary directory; both stopped when dropped.
pub struct MailServer {
    dovecot: Child,
    smtp: Child,
    imap_port: u16,
    smtp_port: u16,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for MailServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailServer")
            .field("imap_port", &self.imap_port)
            .field("smtp_port", &self.smtp_port)
            .finish()
    }
}

/// Who Dovecot's processes run as.
struct Users {
    internal: String,
    login: String,
    /// The user to hand the mail to, when not the one running the test.
    mail_owner: Option<String>,
}

fn command_output(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn users() -> Users {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        Users {
            internal: "dovecot".to_owned(),
            login: "dovenull".to_owned(),
            mail_owner: Some("dovecot".to_owned()),
        }
    } else {
        let me = command_output("id", &["-un"]);
        Users {
            internal: me.clone(),
            login: me,
            mail_owner: None,
        }
    }
}

impl MailServer {
    /// Both servers, listening (panics, pointing at `ops/dev/test`, when
    /// either command is missing).
    pub fn start() -> Self {
        let dovecot = std::env::var_os("STEWARD_DOVECOT")
            .map_or_else(|| PathBuf::from("/usr/sbin/dovecot"), PathBuf::from);
        assert!(
            dovecot.exists(),
            "{} is missing: run the tests with ops/dev/test, which installs Debian's \
             dovecot-imapd (ops/dev/tools.sh)",
            dovecot.display()
        );
        let aiosmtpd = PathBuf::from(std::env::var_os("STEWARD_AIOSMTPD").unwrap_or_else(|| {
            panic!(
                "STEWARD_AIOSMTPD is not set: run the tests with ops/dev/test, which installs \
                 aiosmtpd (ops/dev/tools.sh) and exports it"
            )
        }));
        let dir = tempfile::tempdir().expect("tempdir");
        let users = users();
        let mail = dir.path().join("mail");
        let delivered = mail.join(MAIL_RECIPIENT).join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(delivered.join(sub)).expect("a Maildir");
        }
        if let Some(owner) = &users.mail_owner {
            // Dovecot's own users must reach the directory and own the mail.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
                .expect("chmod");
            let chown = Command::new("chown")
                .arg("-R")
                .arg(format!("{owner}:{owner}"))
                .arg(&mail)
                .status()
                .expect("chown runs");
            assert!(chown.success(), "chown -R {owner} {}", mail.display());
        }
        let mail_owner = users
            .mail_owner
            .as_ref()
            .map_or_else(String::new, |owner| format!("uid={owner} gid={owner} "));
        let imap_port = free_port();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).expect("run dir");
        let config = dir.path().join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "protocols = imap\n\
                 listen = 127.0.0.1\n\
                 base_dir = {run}\n\
                 state_dir = {run}/state\n\
                 log_path = {log}\n\
                 ssl = no\n\
                 disable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\n\
                 auth_failure_delay = 0\n\
                 mail_location = maildir:{mail}/%n/Maildir\n\
                 default_internal_user = {internal}\n\
                 default_internal_group = {internal}\n\
                 default_login_user = {login}\n\
                 first_valid_uid = 1\n\
                 passdb {{\n  driver = static\n  args = password={MAIL_PASSWORD}\n}}\n\
                 userdb {{\n  driver = static\n  args = {mail_owner}home={mail}/%n\n}}\n\
                 service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
                 service anvil {{\n  chroot =\n}}\n",
                run = run.display(),
                log = dir.path().join("dovecot.log").display(),
                mail = mail.display(),
                internal = users.internal,
                login = users.login,
            ),
        )
        .expect("dovecot.conf");
        let dovecot = Command::new(&dovecot)
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(dir.path(), "dovecot.stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", dovecot.display()));

        let smtp_port = free_port();
        let smtp = Command::new(&aiosmtpd)
            .args(["-n", "-l"])
            .arg(format!("127.0.0.1:{smtp_port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&delivered)
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "aiosmtpd.log"))
            .stderr(log_file(dir.path(), "aiosmtpd.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", aiosmtpd.display()));
        let server = Self {
            dovecot,
            smtp,
            imap_port,
            smtp_port,
            dir,
        };
        server.wait_for(imap_port, "dovecot");
        server.wait_for(smtp_port, "aiosmtpd");
        server
    }

    fn wait_for(&self, port: u16, name: &str) {
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not listen on {port}:\n{}", self.log());
    }

    /// The IMAP port.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The SMTP port.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// `imap://127.0.0.1:<port>/`.
    pub fn imap_url(&self) -> String {
        format!("imap://127.0.0.1:{}/", self.imap_port)
    }

    /// `smtp://127.0.0.1:<port>?tls=none`.
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.smtp_port)
    }

    /// Its own directory (configuration, mail, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What both servers logged so far.
    pub fn log(&self) -> String {
        ["dovecot.log", "dovecot.stderr", "aiosmtpd.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                format!("--- {name}\n{text}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Delivers `raw` (a whole mail, `\n` or `\r\n` line ends) into
    /// `user`'s INBOX the way a delivery agent does: written into the
    /// Maildir's `tmp` and moved into `new`, where Dovecot finds it.
    pub fn deliver(&self, user: &str, raw: &str) {
        let maildir = self.dir.path().join("mail").join(user).join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("a Maildir");
        }
        let name = format!("{}.steward-test", uuid::Uuid::now_v7().simple());
        let staged = maildir.join("tmp").join(&name);
        // Maildir files end their lines in `\n`; Dovecot serves `\r\n`.
        std::fs::write(&staged, raw.replace("\r\n", "\n")).expect("the mail is written");
        if let Some(owner) = users().mail_owner {
            let chown = Command::new("chown")
                .arg("-R")
                .arg(format!("{owner}:{owner}"))
                .arg(self.dir.path().join("mail").join(user))
                .status()
                .expect("chown runs");
            assert!(chown.success(), "chown -R {owner}");
        }
        std::fs::rename(&staged, maildir.join("new").join(&name)).expect("delivered");
    }

    /// The mails in `user`'s INBOX as the files Dovecot keeps, oldest first.
    pub fn mails(&self, user: &str) -> Vec<String> {
        let maildir = self.dir.path().join("mail").join(user).join("Maildir");
        let mut files: Vec<(std::time::SystemTime, String)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, std::fs::read_to_string(entry.path()).ok()?))
            })
            .collect();
        files.sort_by_key(|(modified, _)| *modified);
        files.into_iter().map(|(_, mail)| mail).collect()
    }

    /// Stops the SMTP server (to test sending while it is down).
    pub fn stop_smtp(&mut self) {
        let _ = self.smtp.kill();
        let _ = self.smtp.wait();
    }
}

fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .expect("a log file")
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.smtp.kill();
        let _ = self.smtp.wait();
        // SIGTERM lets Dovecot's master stop its children; SIGKILL would
        // leave them behind.
        let _ = Command::new("kill")
            .arg(self.dovecot.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.dovecot.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.dovecot.kill();
        let _ = self.dovecot.wait();
    }
}
