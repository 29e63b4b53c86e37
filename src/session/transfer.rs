//! One whole transfer on each side, after the handshake (upstream: main.c
//! client_run(), do_server_sender(), do_server_recv(), do_recv(),
//! handle_stats()). See protocol-notes/phases-and-redo.md.

use crate::error::{Error, ExitCode, Result};
use crate::flist::files_from::forward_names;
use crate::flist::FileLists;
use crate::report::stats::Stats;
use crate::report::LogCode;
use crate::roles::flist_recv::ListReceiver;
use crate::roles::flist_send::{FlistSender, Sources};
use crate::roles::generator::{get_local_name, Generator, RecvEvent};
use crate::roles::receiver::Receiver as RecvRole;
use crate::roles::sender::{drain_msgs, read_final_goodbye, send_files, NdxCodecs};
use crate::roles::Ctx;
use crate::wire::flist::{FlistDecoder, FlistShape};
use crate::wire::int::*;
use crate::wire::mux::{DemuxReader, MsgCode, MuxWriter};
use crate::wire::ndx::NdxCodec;
use crate::wire::CF_INC_RECURSE;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver};

/// `--files-from` when the list is on this side: a file, or stdin for "-"
/// on a client (on a server "-" means the names come over the socket, as
/// does `host:FILE` on a client). None when the peer has the list.
fn open_files_from(ctx: &Ctx) -> Result<Option<Box<dyn Read + Send>>> {
    use std::os::unix::ffi::OsStrExt;
    let Some(ff) = &ctx.opts.files_from else {
        return Ok(None);
    };
    let bytes = ff.as_bytes();
    if ctx.am_server {
        if bytes == b"-" {
            return Ok(None);
        }
    } else if crate::session::server_args::files_from_host(bytes).is_some() {
        return Ok(None);
    }
    if bytes == b"-" {
        return Ok(Some(Box::new(std::io::stdin())));
    }
    match std::fs::File::open(ff) {
        Ok(f) => Ok(Some(Box::new(f))),
        Err(e) => Err(Error::syntax(format!(
            "failed to open files-from file {}: {}",
            ff.to_string_lossy(),
            crate::error::strerror_plain(&e)
        ))),
    }
}

/// The file-list shape both sides derive from the same options.
pub fn flist_shape(ctx: &Ctx) -> FlistShape {
    let o = &ctx.opts;
    FlistShape {
        protocol: ctx.protocol(),
        varint_flags: ctx.neg.varint_flist_flags(),
        safe_flist: ctx.neg.safe_flist(),
        preserve_uid: o.owner,
        preserve_gid: o.group,
        preserve_links: o.links,
        preserve_devices: o.devices,
        preserve_specials: o.specials,
        preserve_hard_links: o.hard_links > 0,
        preserve_atimes: o.atimes > 0,
        csum_len: if o.checksum {
            Some(ctx.neg.file_sum.flist_len())
        } else {
            None
        },
        inc_recurse: ctx.neg.compat_flags & CF_INC_RECURSE != 0,
        relative_paths: o.relative,
        missing_args: o.missing_args == 2,
        id0_names: ctx.neg.id0_names(),
    }
}

/// Totals a run reports (the client prints them).
#[derive(Debug, Default, Clone)]
pub struct RunResult {
    pub stats: Stats,
}

/// Copy the list totals into the statistics (num_files and friends).
fn count_lists(stats: &mut Stats, lists: &FileLists) {
    stats.num_files = lists.total_entries;
    stats.total_size = lists.total_size;
    stats.num_dirs = lists.type_counts[0];
    stats.num_symlinks = lists.type_counts[1];
    stats.num_devices = lists.type_counts[2];
    stats.num_specials = lists.type_counts[3];
}

/// The client's banner before the file list (flist.c send_file_list(),
/// recv_file_list()).
fn flist_banner(ctx: &Ctx, sending: bool) -> Option<&'static str> {
    if ctx.am_server || ctx.out.info_flist == 0 {
        return None;
    }
    let inc = ctx.neg.compat_flags & CF_INC_RECURSE != 0;
    Some(match (inc, sending) {
        (true, true) => "sending incremental file list\n",
        (true, false) => "receiving incremental file list\n",
        (false, true) => "building file list ... ",
        (false, false) => "receiving file list ... ",
    })
}

/// The sending side: build and send the list, answer requests, finish.
pub fn run_sender<R: Read, W: Write>(
    ctx: &Ctx,
    sources: &[OsString],
    r: &mut DemuxReader<R>,
    w: &mut MuxWriter<W>,
    msgs: Option<&Receiver<(MsgCode, Vec<u8>)>>,
) -> Result<RunResult> {
    let mut stats = Stats::default();
    let shape = flist_shape(ctx);
    let banner = flist_banner(ctx, true);
    if let Some(b) = banner {
        ctx.log.log(LogCode::Client, b);
    }
    let mut codecs = NdxCodecs::new(ctx.protocol());
    let mut fs = FlistSender::new(ctx, shape);
    let xfer_start = std::time::Instant::now();
    match &ctx.opts.files_from {
        None => fs.send_first(w, &mut codecs.write, Sources::Args(sources), &mut stats)?,
        Some(_) => {
            let base = sources
                .first()
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| ".".into());
            if let Some(mut local) = open_files_from(ctx)? {
                let list = Sources::List {
                    base,
                    reader: &mut *local,
                    eol_nulls: ctx.opts.from0,
                    dump_comments: true,
                };
                fs.send_first(w, &mut codecs.write, list, &mut stats)?;
            } else {
                // The names come from the peer, NUL-separated; below
                // protocol 31 outside the multiplexing.
                let raw = ctx.protocol() < 31 && r.is_muxed();
                if raw {
                    r.stop_mux();
                }
                let list = Sources::List {
                    base,
                    reader: &mut *r,
                    eol_nulls: true,
                    dump_comments: false,
                };
                let res = fs.send_first(w, &mut codecs.write, list, &mut stats);
                if raw {
                    r.start_mux();
                }
                res?;
            }
        }
    }
    drain_msgs(w, msgs)?;
    w.flush()?;
    stats.flist_xfertime_ms = xfer_start.elapsed().as_millis() as i64;
    if banner.is_some() && !shape.inc_recurse {
        ctx.log.log(LogCode::Client, "done\n");
    }
    if fs.lists.total_entries == 0 {
        // An empty list ends the sender at once (main.c client_run(),
        // do_server_sender()); a client still shows what the other side
        // says until it closes (noop_io_until_death()).
        if !ctx.am_server {
            let mut sink = [0u8; 4096];
            while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
        }
        stats.total_read = r.total_read as i64;
        stats.total_written = w.total_written as i64;
        return Ok(RunResult { stats });
    }
    send_files(ctx, &mut fs, r, w, msgs, &mut stats, &mut codecs)?;
    count_lists(&mut stats, &fs.lists);
    if ctx.am_server {
        write_stats(ctx, w, r.total_read as i64, w.total_written as i64, &stats)?;
        drain_msgs(w, msgs)?;
        w.flush()?;
    }
    read_final_goodbye(ctx, r, w, msgs, &mut codecs)?;
    stats.total_read = r.total_read as i64;
    stats.total_written = w.total_written as i64;
    Ok(RunResult { stats })
}

/// main.c handle_stats() on a server sender.
fn write_stats<W: Write>(
    ctx: &Ctx,
    w: &mut MuxWriter<W>,
    read: i64,
    written: i64,
    s: &Stats,
) -> Result<()> {
    let p = ctx.protocol();
    write_varlong30(w, read, 3, p)?;
    write_varlong30(w, written, 3, p)?;
    write_varlong30(w, s.total_size, 3, p)?;
    if p >= 29 {
        write_varlong30(w, s.flist_buildtime_ms, 3, p)?;
        write_varlong30(w, s.flist_xfertime_ms, 3, p)?;
    }
    Ok(())
}

/// Client receiver side of handle_stats(): the server's build/transfer times.
fn read_stats<R: Read>(ctx: &Ctx, r: &mut R, s: &mut Stats) -> Result<()> {
    let p = ctx.protocol();
    let _server_read = read_varlong30(r, 3, p)?;
    let _server_written = read_varlong30(r, 3, p)?;
    let _total = read_varlong30(r, 3, p)?;
    if p >= 29 {
        s.flist_buildtime_ms = read_varlong30(r, 3, p)?;
        s.flist_xfertime_ms = read_varlong30(r, 3, p)?;
    }
    Ok(())
}

/// The receiving side (main.c do_recv()): generator on this thread, the
/// receiver on a scoped thread that owns the reader.
pub fn run_receiver<R: Read + Send, W: Write + Send>(
    ctx: &Ctx,
    dest_arg: &[u8],
    r: &mut DemuxReader<R>,
    w: &mut MuxWriter<W>,
    msgs: Option<&Receiver<(MsgCode, Vec<u8>)>>,
    abort: Option<&(dyn Fn(&Error) + Sync)>,
) -> Result<RunResult> {
    let mut stats = Stats::default();
    let shape = flist_shape(ctx);
    let banner = flist_banner(ctx, false);
    if let Some(b) = banner {
        ctx.log.log(LogCode::Client, b);
    }
    let mut lists = FileLists::new(shape.inc_recurse);
    let mut lrx = ListReceiver::new(FlistDecoder::new(shape));
    let mut rcodec = NdxCodec::new(ctx.protocol());
    let forward = if ctx.opts.files_from.is_some() {
        open_files_from(ctx)?
    } else {
        None
    };
    if let Some(src) = forward {
        // The sender reads the names while it sends the list, so they go
        // out from a thread of their own while the list comes in
        // (start_filesfrom_forwarding()).
        let from0 = ctx.opts.from0;
        let proto = ctx.protocol();
        let (fwd, got) = std::thread::scope(|s| {
            let wr = &mut *w;
            let h = s.spawn(move || -> std::io::Result<()> {
                let raw = proto < 31 && wr.is_muxed();
                if raw {
                    wr.stop_mux()?;
                }
                forward_names(src, wr, from0)?;
                wr.flush()?;
                if raw {
                    wr.start_mux()?;
                }
                Ok(())
            });
            let got = lrx.recv_first(ctx, r, &mut lists, &mut stats, &|r: &DemuxReader<R>| {
                r.total_read
            });
            (h.join(), got)
        });
        got?;
        match fwd {
            Ok(res) => res?,
            Err(_) => return Err(Error::new(ExitCode::CRASHED, "files-from thread panicked")),
        }
    } else {
        lrx.recv_first(ctx, r, &mut lists, &mut stats, &|r: &DemuxReader<R>| {
            r.total_read
        })?;
    }
    if shape.inc_recurse && lists.total_entries == 1 {
        lrx.recv_additional(ctx, r, &mut rcodec, &mut lists)?;
    }
    if banner.is_some() && !shape.inc_recurse {
        ctx.log.log(LogCode::Client, "done\n");
    }
    let first: Vec<_> = lists
        .lists
        .front()
        .map(|l| l.entries.clone())
        .unwrap_or_default();
    let (dest, dry_missing_all) =
        get_local_name(ctx, &first, lists.total_entries as usize, dest_arg)?;
    crate::roles::receiver::check_temp_dir(ctx, &dest)?;
    drain_msgs(w, msgs)?;
    if lists.total_entries == 0 {
        // Nothing to transfer, but the destination was still prepared
        // (main.c do_server_recv() calls get_local_name() first).
        w.flush()?;
        stats.total_read = r.total_read as i64;
        stats.total_written = w.total_written as i64;
        return Ok(RunResult { stats });
    }
    crate::roles::backup::check_backup_dir(ctx, &dest)?;
    let (tx, rx) = mpsc::channel::<RecvEvent>();
    // A file the sender could not open will not come: the generator must
    // not wait for it (MSG_NO_SEND is forwarded, io.c read_a_msg()).
    let mut inner = r.take_handler();
    let no_send_tx = tx.clone();
    r.set_handler(Box::new(move |code, payload| {
        if code == MsgCode::NoSend {
            let ndx = i32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
            let _ = no_send_tx.send(RecvEvent::Finished(ndx));
            return Ok(());
        }
        inner(code, payload)
    }));
    let gen_lists = clone_lists(&lists);
    let am_client = !ctx.am_server;
    let (recv_res, gen_res) = std::thread::scope(|s| {
        let dest_ref = &dest;
        let handle = s.spawn(move || -> Result<(Stats, FileLists)> {
            let mut rr = RecvRole::new(ctx, lists, lrx, rcodec, dest_ref, tx.clone());
            let res = (|| -> Result<()> {
                rr.recv_files(r)?;
                if am_client {
                    read_stats(ctx, r, &mut rr.stats)?;
                }
                let _ = rr.events.send(RecvEvent::Done);
                rr.final_goodbye(r)?;
                Ok(())
            })();
            if let Err(e) = res {
                // The receiver reads the socket, so a dead peer is its news.
                if !ctx.out.local_server {
                    crate::session::liveness::set_role(crate::report::messages::Who::Receiver);
                }
                let _ = tx.send(RecvEvent::Fatal(e.duplicate()));
                return Err(e);
            }
            rr.stats.total_read = r.total_read as i64;
            Ok((rr.stats, rr.lists))
        });
        let gen_res = (|| {
            // The generator decides when the connection timed out. (A local
            // copy's messages keep naming the client, the sender.)
            if !ctx.out.local_server {
                crate::session::liveness::set_role(crate::report::messages::Who::Generator);
            }
            let mut g = Generator::new(ctx, gen_lists, dest.clone(), dry_missing_all, w, &rx, msgs);
            g.generate_files()?;
            g.write_goodbye()?;
            Ok::<_, Error>((g.del_stats, g.lists))
        })();
        if let Err(e) = &gen_res {
            // The receiver may be blocked on the socket, and the scope
            // waits for it: end the stream now (upstream's generator exits
            // and the peer sees the connection go). A peer that knows
            // MSG_ERROR_EXIT is told first.
            if ctx.protocol() >= 31 && e.code != ExitCode::STREAMIO {
                let _ = w.send_msg(MsgCode::ErrorExit, &e.code.0.to_le_bytes());
            }
            let _ = w.flush();
            if let Some(abort) = abort {
                abort(e);
            }
            return (None, gen_res);
        }
        (Some(handle.join()), gen_res)
    });
    let (del, gen_lists) = gen_res?;
    let (rs, _recv_lists) = match recv_res {
        Some(Ok(Ok(v))) => v,
        Some(Ok(Err(e))) => return Err(e),
        Some(Err(_)) => return Err(Error::new(ExitCode::CRASHED, "receiver thread panicked")),
        None => (Stats::default(), FileLists::default()),
    };
    let mut out = stats;
    count_lists(&mut out, &gen_lists);
    out.total_read = rs.total_read;
    out.total_written = w.total_written as i64;
    out.literal_data = rs.literal_data;
    out.matched_data = rs.matched_data;
    out.xferred_files = rs.xferred_files;
    out.total_transferred_size = rs.total_transferred_size;
    out.created_files = rs.created_files;
    out.created_dirs = rs.created_dirs;
    out.created_symlinks = rs.created_symlinks;
    out.created_devices = rs.created_devices;
    out.created_specials = rs.created_specials;
    if am_client {
        out.flist_buildtime_ms = rs.flist_buildtime_ms;
        out.flist_xfertime_ms = rs.flist_xfertime_ms;
        out.deleted_files = del.files + del.dirs + del.symlinks + del.devices + del.specials;
        out.deleted_dirs = del.dirs;
        out.deleted_symlinks = del.symlinks;
        out.deleted_devices = del.devices;
        out.deleted_specials = del.specials;
    }
    Ok(RunResult { stats: out })
}

/// The generator's own copy of the lists received so far.
fn clone_lists(l: &FileLists) -> FileLists {
    let mut c = FileLists::new(l.inc);
    for sub in &l.lists {
        c.add(sub.entries.clone(), sub.parent);
    }
    c.eof = l.eof;
    c
}
