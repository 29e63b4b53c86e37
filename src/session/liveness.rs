//! Connection liveness: `--timeout`, keep-alives, and which role is talking
//! (upstream: io.c check_timeout(), maybe_send_keepalive(), set_io_timeout();
//! log.c who_am_i()). See protocol-notes/connection-life.md.
//!
//! Upstream checks for silence inside its select loop. Our roles block in
//! plain reads and writes, so the stream ends are wrapped in [`Clocked`],
//! which stamps every successful transfer, and one watchdog thread ends the
//! run once both directions have been silent for the timeout. One process
//! serves one connection, so the clock is process-wide.

use crate::error::ExitCode;
use crate::report::messages::Who;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static EPOCH: OnceLock<Instant> = OnceLock::new();
static LAST_IN_MS: AtomicU64 = AtomicU64::new(0);
static LAST_OUT_MS: AtomicU64 = AtomicU64::new(0);
static BYTES_IN: AtomicU64 = AtomicU64::new(0);
static TIMEOUT_SECS: AtomicU32 = AtomicU32::new(0);
static WATCHDOG: AtomicBool = AtomicBool::new(false);
static ROLE: AtomicU8 = AtomicU8::new(0);
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

static EXIT_OWNER: std::sync::Mutex<Option<std::thread::ThreadId>> = std::sync::Mutex::new(None);

/// Claim the right to end the process. Upstream is one thread per process,
/// so its exit_cleanup() runs once; here the watchdog, the signal thread
/// and a role that failed could each try to report an ending. The first
/// claimer owns the exit; any other thread parks for good, so a timeout
/// cannot be followed by a second, different ending (say, the EOF its own
/// kill of the remote shell caused).
pub fn claim_exit() {
    let me = std::thread::current().id();
    {
        let mut owner = EXIT_OWNER.lock().unwrap_or_else(|e| e.into_inner());
        match *owner {
            None => {
                *owner = Some(me);
                return;
            }
            Some(t) if t == me => return,
            Some(_) => {}
        }
    }
    loop {
        std::thread::park();
    }
}

/// Remember the remote shell, so a failing run can stop it.
pub fn set_child(pid: u32) {
    CHILD.store(pid as i32, Ordering::Relaxed);
}

/// A run that ends with an error sends SIGUSR1 to the remote shell it
/// started, as upstream's exit_cleanup() does with kill_all(); otherwise a
/// shell that never answers would outlive us.
pub fn kill_children() {
    let pid = CHILD.swap(0, Ordering::Relaxed);
    if pid > 0 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGUSR1,
        );
    }
}

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Bytes read from the peer so far ("N bytes received so far").
pub fn bytes_received() -> u64 {
    BYTES_IN.load(Ordering::Relaxed)
}

/// Record which role this process is playing now, for messages.
pub fn set_role(who: Who) {
    ROLE.store(who as u8, Ordering::Relaxed);
}

/// upstream who_am_i().
pub fn role() -> Who {
    match ROLE.load(Ordering::Relaxed) {
        x if x == Who::Sender as u8 => Who::Sender,
        x if x == Who::Receiver as u8 => Who::Receiver,
        x if x == Who::Generator as u8 => Who::Generator,
        x if x == Who::Server as u8 => Who::Server,
        x if x == Who::PreforkReceiver as u8 => Who::PreforkReceiver,
        _ => Who::Client,
    }
}

/// The configured timeout, 0 for none.
pub fn timeout() -> u32 {
    TIMEOUT_SECS.load(Ordering::Relaxed)
}

/// A peer's MSG_IO_TIMEOUT may only shorten our timeout, and a value
/// outside 1..=86400 is ignored so a server cannot disable it or make the
/// half-interval overflow (io.c read_a_msg()).
pub fn peer_timeout(secs: i32) {
    if !(1..=86400).contains(&secs) {
        return;
    }
    let cur = timeout();
    if cur == 0 || cur > secs as u32 {
        start(secs as u32);
    }
}

/// True when the side that writes should send an empty MSG_DATA frame:
/// nothing went out for half the timeout (upstream's allowed_lull).
pub fn keepalive_due() -> bool {
    let t = timeout();
    if t == 0 {
        return false;
    }
    let lull_ms = u64::from(t).div_ceil(2) * 1000;
    now_ms().saturating_sub(LAST_OUT_MS.load(Ordering::Relaxed)) >= lull_ms
}

/// Arm `--timeout`: the watchdog ends the run with code 30 once nothing
/// was read or written for `secs` seconds.
pub fn start(secs: u32) {
    if secs == 0 {
        return;
    }
    let now = now_ms();
    LAST_IN_MS.fetch_max(now, Ordering::Relaxed);
    LAST_OUT_MS.fetch_max(now, Ordering::Relaxed);
    TIMEOUT_SECS.store(secs, Ordering::Relaxed);
    if WATCHDOG.swap(true, Ordering::Relaxed) {
        return;
    }
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_millis(100));
        let t = u64::from(timeout());
        let last = LAST_IN_MS
            .load(Ordering::Relaxed)
            .max(LAST_OUT_MS.load(Ordering::Relaxed));
        let idle = now_ms().saturating_sub(last) / 1000;
        if t > 0 && idle >= t {
            expire(idle);
        }
    });
}

fn expire(idle: u64) -> ! {
    claim_exit();
    let who = role();
    crate::fsops::tempfile::cleanup_all();
    kill_children();
    let prog = crate::session::signals::prog();
    let _ = io::stdout().flush();
    eprint!(
        "[{}] io timeout after {idle} seconds -- exiting\n{}",
        who.as_str(),
        crate::report::messages::exit_line(&prog, ExitCode::TIMEOUT, who)
    );
    std::process::exit(ExitCode::TIMEOUT.0);
}

/// A stream end that stamps the liveness clock on every transfer.
pub struct Clocked<T>(pub T);

impl<T: Read> Read for Clocked<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        if n > 0 {
            BYTES_IN.fetch_add(n as u64, Ordering::Relaxed);
            LAST_IN_MS.fetch_max(now_ms(), Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<T: Write> Write for Clocked<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // --bwlimit: bounded writes, each paid for with time afterwards.
        let len = super::limits::write_max().map_or(buf.len(), |m| buf.len().min(m));
        let n = self.0.write(&buf[..len])?;
        if n > 0 {
            LAST_OUT_MS.fetch_max(now_ms(), Ordering::Relaxed);
        }
        super::limits::after_write(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
