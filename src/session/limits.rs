//! Run-wide limits that act on the connection: `--bwlimit` throttles what
//! this process writes to its peer, and `--stop-after`/`--stop-at` end the
//! client at a wall-clock time (upstream: io.c sleep_for_bwlimit() and the
//! stop_at_utime check in perform_io()). Like `liveness`, the state is
//! process-wide: one process serves one connection.

use crate::error::ExitCode;
use crate::report::messages::Who;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limit in KiB per second; 0 = none.
static BWLIMIT: AtomicU32 = AtomicU32::new(0);

/// Bytes written but not yet "paid for" with time, and when that was last
/// settled (upstream's total_written and prior_tv).
static BUCKET: Mutex<(i64, Option<Instant>)> = Mutex::new((0, None));

const ONE_SEC_US: i64 = 1_000_000;

/// Arm `--bwlimit` (KiB/s) for this process's writes.
pub fn set_bwlimit(kib: u32) {
    BWLIMIT.store(kib, Ordering::Relaxed);
}

/// The most one write() may carry under the limit: an eighth of a second's
/// worth, at least 512 bytes (upstream bwlimit_writemax), so a big buffer
/// does not go out as one burst. None = unlimited.
pub fn write_max() -> Option<usize> {
    match BWLIMIT.load(Ordering::Relaxed) {
        0 => None,
        k => Some((k as usize * 128).max(512)),
    }
}

/// After `n` bytes went out: sleep as long as needed to keep the average at
/// the limit. Sleeps shorter than a tenth of a second are saved up (the
/// debt carries over), so the rate holds without a sleep per write.
pub fn after_write(n: usize) {
    let limit = i64::from(BWLIMIT.load(Ordering::Relaxed));
    if limit == 0 || n == 0 {
        return;
    }
    let mut b = BUCKET.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let mut owed = b.0 + n as i64;
    if let Some(prior) = b.1 {
        // Time since the last settling pays off part of the debt.
        let elapsed = start.duration_since(prior).as_micros() as i64;
        owed = (owed - elapsed * limit / (ONE_SEC_US / 1024)).max(0);
    }
    let sleep_us = owed * (ONE_SEC_US / 1024) / limit;
    if sleep_us < ONE_SEC_US / 10 {
        *b = (owed, Some(start));
        return;
    }
    std::thread::sleep(Duration::from_micros(sleep_us as u64));
    let now = Instant::now();
    let slept = now.duration_since(start).as_micros() as i64;
    // Oversleeping is credited: the bytes count as sent already.
    *b = ((sleep_us - slept) * limit / (ONE_SEC_US / 1024), Some(now));
}

/// Which processes upstream would have on this side when the stop time
/// comes; each one that watches the clock reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSide {
    /// A local copy: the client (sender) stops, and the receiving child it
    /// kills reports the SIGUSR1.
    Local,
    /// A pushing client: one process, the sender.
    Push,
    /// A pulling client: its receiver stops first, then its generator
    /// notices and stops too.
    Pull,
}

/// Arm `--stop-after`/`--stop-at`: at `utime` (Unix seconds) the run ends
/// with "stopping at requested limit" and exit code 30.
pub fn arm_stop_at(utime: i64, side: StopSide) {
    if utime <= 0 {
        return;
    }
    std::thread::spawn(move || {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let left = utime as f64 - now;
            if left <= 0.0 {
                break;
            }
            std::thread::sleep(Duration::from_secs_f64(left.min(1.0)));
        }
        stop(side);
    });
}

fn stop(side: StopSide) -> ! {
    use crate::report::messages::exit_line;
    super::liveness::claim_exit();
    crate::fsops::tempfile::cleanup_all();
    super::liveness::kill_children();
    // Let the remote side take the signal before its pipes close, as it
    // does with upstream (whose exit takes a moment longer); otherwise it
    // may report the closed connection instead of dying quietly.
    std::thread::sleep(Duration::from_millis(100));
    let prog = super::signals::prog();
    let _ = std::io::stdout().flush();
    // Upstream reports it as a bare error line, without the program name.
    const STOP: &str = "stopping at requested limit\n";
    let timeout = |who| exit_line(&prog, ExitCode::TIMEOUT, who);
    let text = match side {
        StopSide::Local => format!(
            "{STOP}{}{}",
            exit_line(&prog, ExitCode::SIGNAL1, Who::Generator),
            timeout(Who::Sender)
        ),
        StopSide::Push => format!("{STOP}{}", timeout(Who::Sender)),
        StopSide::Pull => format!(
            "{STOP}{}{STOP}{}",
            timeout(Who::Receiver),
            timeout(Who::Generator)
        ),
    };
    eprint!("{text}");
    std::process::exit(ExitCode::TIMEOUT.0);
}

/// A stream end whose writes obey `--bwlimit` (the local copy's socket;
/// remote streams get the same through `liveness::Clocked`).
pub struct Throttled<W>(pub W);

impl<W: Write> Write for Throttled<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = write_max().map_or(buf.len(), |m| buf.len().min(m));
        let n = self.0.write(&buf[..len])?;
        after_write(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
