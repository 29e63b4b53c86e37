//! The daemon's log (upstream log.c with FLOG): "log file" when set,
//! otherwise syslog through /dev/log. Lines carry the time and the pid,
//! as upstream writes them: `YYYY/MM/DD HH:MM:SS [PID] TEXT`.

use std::io::Write;
use std::sync::Mutex;

pub struct DaemonLog {
    file: Option<Mutex<std::fs::File>>,
    syslog: Option<(std::os::unix::net::UnixDatagram, u32, String)>,
}

impl DaemonLog {
    /// `log file` wins; an empty value means syslog with the facility and
    /// tag from the config (upstream log_init()).
    pub fn open(log_file: &str, facility: i32, tag: &str) -> DaemonLog {
        if !log_file.is_empty() {
            if let Ok(f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_file)
            {
                return DaemonLog {
                    file: Some(Mutex::new(f)),
                    syslog: None,
                };
            }
        }
        let sock = std::os::unix::net::UnixDatagram::unbound()
            .ok()
            .filter(|s| s.connect("/dev/log").is_ok());
        DaemonLog {
            file: None,
            syslog: sock.map(|s| (s, facility.max(0) as u32, tag.to_string())),
        }
    }

    /// A log that goes nowhere (tests, and before the config is read).
    pub fn none() -> DaemonLog {
        DaemonLog {
            file: None,
            syslog: None,
        }
    }

    pub fn line(&self, text: &str) {
        let text = text.trim_end_matches('\n');
        if let Some(f) = &self.file {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let stamp = crate::report::numbers::timestring(
                now,
                crate::report::localtime::utc_offset(now),
            );
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(f, "{stamp} [{}] {text}", std::process::id());
        } else if let Some((s, facility, tag)) = &self.syslog {
            // LOG_INFO within the configured facility (already shifted,
            // as the C constants are).
            let pri = facility | 6;
            let _ = s.send(format!("<{pri}>{tag}[{}]: {text}", std::process::id()).as_bytes());
        }
    }
}
