//! One whole transfer on each side, after the handshake (upstream: main.c
//! client_run(), do_server_sender(), do_server_recv(), do_recv(),
//! handle_stats(); flist.c send_file_list()/recv_file_list()).
//! See protocol-notes/phases-and-redo.md.

use crate::error::{Error, IoError, Result};
use crate::flist::build::Builder;
use crate::flist::entry::{FileEntry, FileType};
use crate::flist::sort::sort_and_clean;
use crate::flist::FileList;
use crate::report::stats::Stats;
use crate::report::LogCode;
use crate::roles::generator::{get_local_name, Generator, RecvEvent};
use crate::roles::receiver::Receiver as RecvRole;
use crate::roles::sender::{drain_msgs, read_final_goodbye, send_files, NdxCodecs};
use crate::roles::Ctx;
use crate::wire::flist::{
    read_id_list, write_id_list, FlistDecoder, FlistEncoder, FlistItem, FlistShape,
};
use crate::wire::int::*;
use crate::wire::mux::{DemuxReader, MsgCode, MuxWriter};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

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
        preserve_hard_links: false,
        csum_len: if o.checksum {
            Some(ctx.neg.file_sum.digest_len())
        } else {
            None
        },
        inc_recurse: false,
        relative_paths: false,
        id0_names: ctx.neg.id0_names(),
    }
}

/// Totals a run reports (the client prints them).
#[derive(Debug, Default, Clone)]
pub struct RunResult {
    pub stats: Stats,
}

fn total_size(entries: &[FileEntry]) -> i64 {
    entries
        .iter()
        .filter(|e| {
            matches!(
                e.file_type(),
                Some(FileType::Regular) | Some(FileType::Symlink)
            )
        })
        .map(|e| e.size)
        .sum()
}

fn count_files(stats: &mut Stats, entries: &[FileEntry]) {
    stats.num_files = entries.len() as i64;
    for e in entries {
        match e.file_type() {
            Some(FileType::Dir) => stats.num_dirs += 1,
            Some(FileType::Symlink) => stats.num_symlinks += 1,
            Some(t) if t.is_device() => stats.num_devices += 1,
            Some(t) if t.is_special() => stats.num_specials += 1,
            _ => {}
        }
    }
}

fn name_of_uid(uid: u32) -> Option<Vec<u8>> {
    users::get_user_by_uid(uid).map(|u| u.name().as_encoded_bytes().to_vec())
}

fn name_of_gid(gid: u32) -> Option<Vec<u8>> {
    users::get_group_by_gid(gid).map(|g| g.name().as_encoded_bytes().to_vec())
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
    let show_progress = !ctx.am_server && ctx.out.info_flist >= 1;
    if show_progress {
        ctx.log.log(LogCode::Client, "building file list ... ");
    }
    let start = Instant::now();
    let mut b = Builder::new(
        &ctx.opts,
        &ctx.log,
        ctx.opts.checksum.then_some(ctx.neg.file_sum),
    );
    b.add_sources(sources);
    let build_ms = start.elapsed().as_millis().max(1) as i64;
    ctx.shared.add_io_error(b.io_error);
    let entries = b.entries;
    let written_before = w.total_written;
    let mut enc = FlistEncoder::new(shape);
    let xfer_start = Instant::now();
    for e in &entries {
        enc.write_entry(w, e)?;
    }
    let io_error = ctx.shared.io_error();
    if io_error == 0 || !shape.safe_flist {
        enc.write_end(w, 0)?;
    } else {
        enc.write_end(w, io_error)?;
    }
    if !ctx.opts.numeric_ids {
        write_id_lists(w, &entries, &shape)?;
    }
    if ctx.protocol() < 30 {
        write_int(w, io_error as i32)?;
    } else if !shape.safe_flist && io_error != 0 {
        w.send_msg(MsgCode::IoError, &(io_error as i32).to_le_bytes())?;
    }
    // Upstream counts only what already reached the socket, so a list
    // that still sits in the output buffer has size 0.
    stats.flist_size = (w.total_written - written_before) as i64;
    drain_msgs(w, msgs)?;
    w.flush()?;
    stats.flist_buildtime_ms = build_ms;
    stats.flist_xfertime_ms = xfer_start.elapsed().as_millis() as i64;
    if show_progress {
        ctx.log.log(LogCode::Client, "done\n");
    }
    let mut flist = FileList { entries };
    sort_and_clean(&mut flist.entries, ctx.protocol(), false);
    count_files(&mut stats, &flist.entries);
    stats.total_size = total_size(&flist.entries);
    let mut codecs = NdxCodecs::new(ctx.protocol());
    if flist.entries.is_empty() {
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
    send_files(ctx, &mut flist, r, w, msgs, &mut stats, &mut codecs)?;
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

fn write_id_lists<W: Write>(w: &mut W, entries: &[FileEntry], shape: &FlistShape) -> Result<()> {
    let mut seen_u: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut seen_g: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut hu = HashMap::new();
    let mut hg = HashMap::new();
    for e in entries {
        if shape.preserve_uid && !hu.contains_key(&e.uid) {
            hu.insert(e.uid, ());
            if let Some(n) = name_of_uid(e.uid) {
                seen_u.insert(0, (e.uid, n));
            }
        }
        if shape.preserve_gid && !hg.contains_key(&e.gid) {
            hg.insert(e.gid, ());
            if let Some(n) = name_of_gid(e.gid) {
                seen_g.insert(0, (e.gid, n));
            }
        }
    }
    if shape.preserve_uid {
        write_id_list(w, &seen_u, name_of_uid(0).as_deref(), shape)?;
    }
    if shape.preserve_gid {
        write_id_list(w, &seen_g, name_of_gid(0).as_deref(), shape)?;
    }
    Ok(())
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

/// Receive the file list (flist.c recv_file_list() + recv_id_list()).
pub fn recv_file_list<R: Read>(
    ctx: &Ctx,
    r: &mut DemuxReader<R>,
    stats: &mut Stats,
) -> Result<FileList> {
    let shape = flist_shape(ctx);
    let mut dec = FlistDecoder::new(shape);
    let mut entries: Vec<FileEntry> = Vec::new();
    let before = r.total_read;
    let io_error = loop {
        match dec.read_entry(r, &entries)? {
            FlistItem::Entry(e) => {
                if entries.len() >= 1 << 26 {
                    return Err(Error::new(crate::ExitCode::MALLOC, "file list too large"));
                }
                entries.push(e)
            }
            FlistItem::End(err) => break err,
        }
    };
    ctx.shared.add_io_error(io_error);
    if !ctx.opts.numeric_ids {
        let am_root = nix::unistd::geteuid().is_root();
        if shape.preserve_uid {
            let list = read_id_list(r, &shape)?;
            if am_root {
                map_ids(&mut entries, &list, true);
            }
        }
        if shape.preserve_gid {
            let list = read_id_list(r, &shape)?;
            map_ids(&mut entries, &list, false);
        }
    }
    if ctx.protocol() < 30 {
        let e = read_int(r)? as u32;
        ctx.shared.add_io_error(e & IoError::VALID_MASK);
    }
    stats.flist_size = (r.total_read - before) as i64;
    sort_and_clean(&mut entries, ctx.protocol(), true);
    count_files(stats, &entries);
    stats.total_size = total_size(&entries);
    Ok(FileList { entries })
}

/// Map the sender's ids to ours by name (uidlist.c match_uid()/match_gid()).
fn map_ids(entries: &mut [FileEntry], list: &[(u32, Vec<u8>)], uids: bool) {
    let mut map: HashMap<u32, u32> = HashMap::new();
    for (id, name) in list {
        if name.is_empty() {
            continue;
        }
        let os = std::ffi::OsStr::new(std::str::from_utf8(name).unwrap_or(""));
        let local = if uids {
            users::get_user_by_name(os).map(|u| u.uid())
        } else {
            users::get_group_by_name(os).map(|g| g.gid())
        };
        if let Some(l) = local {
            map.insert(*id, l);
        }
    }
    for e in entries.iter_mut() {
        let id = if uids { &mut e.uid } else { &mut e.gid };
        if let Some(&l) = map.get(id) {
            *id = l;
        }
    }
}

/// The receiving side (main.c do_recv()): generator on this thread, the
/// receiver on a scoped thread that owns the reader.
pub fn run_receiver<R: Read + Send, W: Write>(
    ctx: &Ctx,
    dest_arg: &[u8],
    r: &mut DemuxReader<R>,
    w: &mut MuxWriter<W>,
    msgs: Option<&Receiver<(MsgCode, Vec<u8>)>>,
) -> Result<RunResult> {
    let mut stats = Stats::default();
    let show = !ctx.am_server && ctx.out.info_flist >= 1;
    if show {
        ctx.log.log(LogCode::Client, "receiving file list ... ");
    }
    let mut flist = recv_file_list(ctx, r, &mut stats)?;
    if show {
        ctx.log.log(LogCode::Client, "done\n");
    }
    if flist.entries.is_empty() {
        // Nothing to transfer, but the destination is still prepared
        // (main.c do_server_recv() calls get_local_name() first).
        get_local_name(ctx, &flist, dest_arg)?;
        drain_msgs(w, msgs)?;
        w.flush()?;
        if !ctx.am_server {
            stats.total_read = r.total_read as i64;
            stats.total_written = w.total_written as i64;
        }
        return Ok(RunResult { stats });
    }
    let (dest, dry_missing_all) = get_local_name(ctx, &flist, dest_arg)?;
    drain_msgs(w, msgs)?;
    let (tx, rx) = mpsc::channel::<RecvEvent>();
    let flist_copy = FileList {
        entries: flist.entries.clone(),
    };
    let am_client = !ctx.am_server;
    let (recv_stats, gen_res) = std::thread::scope(|s| {
        let dest_ref = &dest;
        let flist_ref = &flist_copy;
        let handle = s.spawn(move || -> Result<Stats> {
            let mut rr = RecvRole::new(ctx, flist_ref, dest_ref, tx.clone());
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
                let _ = tx.send(RecvEvent::Fatal(Error {
                    code: e.code,
                    msg: e.msg.clone(),
                    quiet: e.quiet,
                }));
                return Err(e);
            }
            rr.stats.total_read = r.total_read as i64;
            Ok(rr.stats)
        });
        let gen_res = (|| {
            let mut g =
                Generator::new(ctx, &mut flist, dest.clone(), dry_missing_all, w, &rx, msgs);
            g.generate_files()?;
            g.write_goodbye()?;
            Ok::<_, Error>(g.del_stats)
        })();
        if gen_res.is_err() {
            // The receiver may be blocked on the socket; the caller tears the
            // stream down, which ends it.
            return (None, gen_res);
        }
        (Some(handle.join()), gen_res)
    });
    let del = gen_res?;
    let rs = match recv_stats {
        Some(Ok(Ok(s))) => s,
        Some(Ok(Err(e))) => return Err(e),
        Some(Err(_)) => {
            return Err(Error::new(
                crate::ExitCode::CRASHED,
                "receiver thread panicked",
            ))
        }
        None => Stats::default(),
    };
    let mut out = stats;
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
        // A pulling client learns the server's totals (swapped) from the stats.
        out.total_read = rs.total_read;
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

/// Client receiver side of handle_stats(): the server's read/written swap.
fn read_stats<R: Read>(ctx: &Ctx, r: &mut R, s: &mut Stats) -> Result<()> {
    let p = ctx.protocol();
    let server_read = read_varlong30(r, 3, p)?;
    let server_written = read_varlong30(r, 3, p)?;
    let _ = (server_read, server_written);
    let _total = read_varlong30(r, 3, p)?;
    if p >= 29 {
        s.flist_buildtime_ms = read_varlong30(r, 3, p)?;
        s.flist_xfertime_ms = read_varlong30(r, 3, p)?;
    }
    Ok(())
}
