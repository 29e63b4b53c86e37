//! The sender: answers the generator's requests with file data (upstream:
//! sender.c send_files(), write_ndx_and_attrs(); match.c match_sums()).
//! See protocol-notes/phases-and-redo.md and sums-and-tokens.md.
//!
//! One thread owns both halves of the sender's stream. It reads a request
//! (ndx + iflags [+ sum head and block sums]), then writes the echo and the
//! token stream before reading the next request.

use super::flist_send::{FlistSender, MIN_FILECNT_LOOKAHEAD};
use super::{read_ndx_skip_del_stats, Ctx};
use crate::checksum::FileSum;
use crate::delta::matcher::{match_window, Token, Window};
use crate::error::{strerror, Error, IoError, Result};
use crate::flist::build::full_fname;
use crate::flist::entry::{FileEntry, FLAG_CLEARED, FLAG_FILE_SENT};
use crate::flist::FileLists;
use crate::report::stats::Stats;
use crate::report::LogCode;
use crate::wire::compress::TokenEncoder;
use crate::wire::int::*;
use crate::wire::item;
use crate::wire::mux::{DemuxReader, MsgCode, MuxWriter};
use crate::wire::ndx::{NdxCodec, NDX_DEL_STATS, NDX_DONE};
use crate::wire::sums::{read_block_sums, read_sum_head, write_sum_head};
use std::io::{self, Read, Write};
use std::sync::mpsc::Receiver;

/// The ndx + attributes block as read (rsync.c read_ndx_and_attrs()).
pub struct NdxAttrs {
    pub ndx: i32,
    pub iflags: u32,
    pub fnamecmp_type: Option<u8>,
    pub xname: Vec<u8>,
}

/// Read iflags, basis type and xname after a non-negative ndx.
pub fn read_attrs<R: Read + ?Sized>(r: &mut R, ndx: i32, protocol: u32) -> Result<NdxAttrs> {
    let iflags = if protocol >= 29 {
        read_shortint(r)? as u32
    } else {
        item::TRANSFER | item::MISSING_DATA
    };
    let fnamecmp_type = if iflags & item::BASIS_TYPE_FOLLOWS != 0 {
        Some(read_byte(r)?)
    } else {
        None
    };
    let xname = if iflags & item::XNAME_FOLLOWS != 0 {
        read_vstring(r, crate::wire::flist::MAXPATHLEN)?
    } else {
        Vec::new()
    };
    Ok(NdxAttrs {
        ndx,
        iflags,
        fnamecmp_type,
        xname,
    })
}

/// Write ndx + attributes (sender.c write_ndx_and_attrs()).
pub fn write_ndx_and_attrs<W: Write + ?Sized>(
    w: &mut W,
    codec: &mut NdxCodec,
    a: &NdxAttrs,
    protocol: u32,
) -> Result<()> {
    codec.write(w, a.ndx)?;
    if protocol >= 29 {
        write_shortint(w, a.iflags as u16)?;
        if let Some(t) = a.fnamecmp_type {
            write_byte(w, t)?;
        }
        if a.iflags & item::XNAME_FOLLOWS != 0 {
            write_vstring(w, &a.xname)?;
        }
    }
    Ok(())
}

/// Look up a requested entry, refusing indexes the peer may not name.
pub fn entry_for(flist: &FileLists, ndx: i32) -> Result<&FileEntry> {
    let e = flist.get(ndx).ok_or_else(|| {
        Error::protocol(format!(
            "Invalid file index: {ndx} (-1 - {})",
            flist.total_entries - 1
        ))
    })?;
    if e.flags & FLAG_CLEARED != 0 {
        return Err(Error::protocol(format!(
            "refusing transfer of cleared file index {ndx}"
        )));
    }
    Ok(e)
}

/// Move queued log messages into the stream (server side only).
pub fn drain_msgs<W: Write>(
    w: &mut MuxWriter<W>,
    rx: Option<&Receiver<(MsgCode, Vec<u8>)>>,
) -> io::Result<()> {
    if let Some(rx) = rx {
        while let Ok((code, text)) = rx.try_recv() {
            w.send_msg(code, &text)?;
        }
    }
    Ok(())
}

pub fn count_created(stats: &mut Stats, e: &FileEntry) {
    use crate::flist::entry::FileType::*;
    stats.created_files += 1;
    match e.file_type() {
        Some(Dir) => stats.created_dirs += 1,
        Some(Symlink) => stats.created_symlinks += 1,
        Some(CharDev) | Some(BlockDev) => stats.created_devices += 1,
        Some(Fifo) | Some(Socket) => stats.created_specials += 1,
        _ => {}
    }
}

/// sender.c send_files().
pub fn send_files<R: Read, W: Write>(
    ctx: &Ctx,
    fs: &mut FlistSender,
    r: &mut DemuxReader<R>,
    w: &mut MuxWriter<W>,
    msgs: Option<&Receiver<(MsgCode, Vec<u8>)>>,
    stats: &mut Stats,
    codecs: &mut NdxCodecs,
) -> Result<()> {
    let inc = fs.lists.inc;
    let proto = ctx.protocol();
    let max_phase = ctx.max_phase();
    let mut phase = 0;
    let NdxCodecs {
        read: rcodec,
        write: wcodec,
    } = codecs;
    let io_error_start = ctx.shared.io_error();
    let xfer_len = ctx.neg.xfer_sum.digest_len();
    let do_xfers = !ctx.opts.dry_run;
    // (matches, hash_hits, false_alarms) over the whole run.
    let mut totals = (0u64, 0u64, 0u64);
    // One encoder for the session: zstd's stream runs across files. With
    // compression off it writes the plain int32 token stream.
    let mut enc = TokenEncoder::new(ctx.neg.compress, ctx.neg.compress_level);
    enc.set_protocol(proto as i32);
    let removals = (ctx.opts.remove_source_files > 0).then(|| SentRemovals::install(ctx, r));
    loop {
        if inc {
            fs.send_extra(w, wcodec, MIN_FILECNT_LOOKAHEAD, stats)?;
        }
        drain_msgs(w, msgs)?;
        if !r.has_buffered() {
            w.flush()?;
        }
        let am_server = ctx.am_server;
        let ndx = {
            let mut echo: Vec<[i64; 5]> = Vec::new();
            let ndx = read_ndx_skip_del_stats(r, rcodec, |v| {
                echo.push(v);
                Ok(())
            })?;
            // A server sender passes deletion stats on to the client receiver.
            if am_server {
                for v in echo {
                    write_del_stats(w, wcodec, &v)?;
                }
            }
            ndx
        };
        // Successes that came with this read are for lists still held.
        if let Some(rm) = &removals {
            rm.drain(&fs.lists);
        }
        if ndx == NDX_DONE {
            // One list finished; only the last one ends the phase.
            if inc && !fs.lists.lists.is_empty() && fs.list_done() {
                wcodec.write(w, NDX_DONE)?;
                continue;
            }
            phase += 1;
            if phase > max_phase {
                break;
            }
            wcodec.write(w, NDX_DONE)?;
            continue;
        }
        let a = read_attrs(r, ndx, proto)?;
        if inc {
            fs.note_current(ndx);
            fs.send_extra(w, wcodec, MIN_FILECNT_LOOKAHEAD, stats)?;
        }
        let file = entry_for(&fs.lists, ndx)?.clone();
        if a.iflags & item::TRANSFER != 0 && !file.is_reg() {
            return Err(Error::protocol(format!(
                "received request to transfer non-regular file: {ndx} [sender]"
            )));
        }
        if a.iflags & item::TRANSFER == 0 {
            ctx.out.maybe_log_item(&ctx.log, &file, a.iflags, &a.xname);
            write_ndx_and_attrs(w, wcodec, &a, proto)?;
            if a.iflags & item::IS_NEW != 0 {
                count_created(stats, &file);
            }
            continue;
        }
        if phase == 2 {
            return Err(Error::protocol("got transfer request in phase 2 [sender]"));
        }
        let redo = file.flags & FLAG_FILE_SENT != 0;
        if !redo && a.iflags & item::IS_NEW != 0 {
            stats.created_files += 1;
        }
        if let Some(e) = fs.lists.get_mut(ndx) {
            e.flags |= FLAG_FILE_SENT;
        }
        stats.xferred_files += 1;
        stats.total_transferred_size += file.size;
        if !do_xfers {
            ctx.out.log_item(&ctx.log, &file, a.iflags, None);
            write_ndx_and_attrs(w, wcodec, &a, proto)?;
            continue;
        }
        let csum_length = if redo { 16 } else { 2 };
        // A redo is a plain in-place transfer: append mode is off for it.
        let append = if redo { 0 } else { append_mode(ctx) };
        let head = read_sum_head(r, proto, xfer_len, csum_length)?;
        // In append mode only the sum head comes: it says how much the
        // receiver already has (sender.c receive_sums()).
        let sums = if append > 0 {
            Vec::new()
        } else {
            read_block_sums(r, &head)?
        };
        let updating_basis = updating_basis_file(ctx, a.fnamecmp_type);
        let path = file.local_path.clone().unwrap_or_default();
        let mut f = match crate::flist::links::open_source(&ctx.opts, &path) {
            Ok(f) => f,
            Err(e) => {
                if e.kind() == io::ErrorKind::NotFound {
                    ctx.shared.add_io_error(IoError::VANISHED);
                    ctx.log.log(
                        LogCode::Warning,
                        &format!("file has vanished: \"{}\"\n", full_fname(&path)),
                    );
                } else {
                    ctx.shared.add_io_error(IoError::GENERAL);
                    ctx.log.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [sender] send_files failed to open \"{}\": {}\n",
                            ctx.log.prog,
                            full_fname(&path),
                            strerror(&e)
                        ),
                    );
                }
                if proto >= 30 {
                    w.send_msg(MsgCode::NoSend, &ndx.to_le_bytes())?;
                }
                continue;
            }
        };
        // The file is read as it is sent, in bounded memory; its length is
        // what it had when opened (sender.c send_files() fstat()).
        let mut read_ok = true;
        let file_len = f.metadata().map(|m| m.len() as i64).unwrap_or(file.size);
        if append > 0 && file_len < file.size {
            ctx.log.log(
                LogCode::Warning,
                &format!("skipped diminished file: {}\n", full_fname(&path)),
            );
            if proto >= 30 {
                w.send_msg(MsgCode::NoSend, &ndx.to_le_bytes())?;
            }
            continue;
        }
        let bytes_before = w.data_bytes;
        write_ndx_and_attrs(w, wcodec, &a, proto)?;
        write_sum_head(w, &head, proto)?;
        if ctx.out.log_before_transfer {
            ctx.out.log_item(&ctx.log, &file, a.iflags, None);
        } else if !ctx.am_server && ctx.out.info_name >= 1 && ctx.out.info_progress == 1 {
            ctx.log.log(
                LogCode::Client,
                &format!("{}\n", crate::report::safe_name(&file.name)),
            );
        }
        let mut fsum = FileSum::new(ctx.neg.xfer_sum, ctx.neg.seed);
        let show_progress = !ctx.am_server && ctx.out.info_progress > 0;
        let mut progress = super::logging::FileProgress::new(file_len, ctx.opts.human_readable);
        let mut sent_ofs = 0i64;
        let ms = if head.count == 0 || append > 0 {
            let mut ms = crate::delta::matcher::MatchStats::default();
            let mut chunk = vec![0u8; 256 * 1024];
            // match.c match_sums(): the prefix the receiver has is skipped,
            // and with --append-verify it counts in the whole-file sum.
            let skip = if append > 0 {
                append_prefix_len(&head).min(file_len.max(0))
            } else {
                0
            };
            if append == 2 {
                let mut left = skip as usize;
                while left > 0 {
                    let want = left.min(chunk.len());
                    let n = match f.read(&mut chunk[..want]) {
                        Ok(0) | Err(_) => {
                            read_ok = false;
                            chunk[..want].iter_mut().for_each(|b| *b = 0);
                            want
                        }
                        Ok(n) => n,
                    };
                    fsum.update(&chunk[..n]);
                    left -= n;
                }
            } else if skip > 0 {
                use std::io::Seek;
                f.seek(io::SeekFrom::Start(skip as u64))?;
            }
            sent_ofs = skip;
            let mut remaining = (file_len.max(0) - skip) as usize;
            while remaining > 0 {
                let want = remaining.min(chunk.len());
                let n = match f.read(&mut chunk[..want]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => 0,
                };
                let n = if n == 0 {
                    // The file shrank or failed: zeros stand in for the
                    // announced length and the checksum is spoiled below.
                    read_ok = false;
                    chunk[..want].iter_mut().for_each(|b| *b = 0);
                    want
                } else {
                    n
                };
                fsum.update(&chunk[..n]);
                // Literal data only, more follows (upstream sends a whole
                // file as token -2 pieces and a final -1).
                enc.send_token(w, &chunk[..n], -2, &[])?;
                ms.literal += n as u64;
                sent_ofs += n as i64;
                remaining -= n;
                if show_progress {
                    progress.update(&ctx.log, sent_ofs);
                }
            }
            ms
        } else {
            let mut win = Window::from_reader(&mut f, file_len as u64);
            let ms = match_window(
                &mut win,
                &head,
                &sums,
                ctx.neg.xfer_sum,
                ctx.neg.seed,
                ctx.neg.proper_seed_order,
                updating_basis,
                &mut |t| {
                    match t {
                        Token::Literal(d) => {
                            fsum.update(d);
                            sent_ofs += d.len() as i64;
                            enc.send_token(w, d, -2, &[])
                                .map_err(crate::wire::mux::to_io)?;
                        }
                        Token::Match {
                            block, len, data, ..
                        } => {
                            fsum.update(data);
                            sent_ofs += len as i64;
                            // zlib adds the matched bytes to its history.
                            enc.send_token(w, &[], block as i32, data)
                                .map_err(crate::wire::mux::to_io)?;
                        }
                    }
                    if show_progress {
                        progress.update(&ctx.log, sent_ofs);
                    }
                    Ok(())
                },
            )
            .map_err(Error::from)?;
            read_ok = !win.read_error;
            ms
        };
        enc.send_token(w, &[], -1, &[])?;
        let mut sum = [0u8; 32];
        let n = fsum.finish(&mut sum);
        if !read_ok {
            // A read error must make the receiver discard the file: send a
            // deliberately wrong checksum (match.c match_sums()).
            ctx.shared.add_io_error(IoError::GENERAL);
            let orig = sum;
            sum = [0u8; 32];
            if orig[..n].iter().all(|&b| b == 0) {
                sum[n - 1] = 1;
            }
        }
        w.write_all(&sum[..n])?;
        stats.literal_data += ms.literal as i64;
        stats.matched_data += ms.matched as i64;
        totals.0 += ms.matches;
        totals.1 += ms.hash_hits;
        totals.2 += ms.false_alarms;
        if show_progress {
            let total = fs.lists.total_entries;
            let done = if inc { ndx as i64 } else { ndx as i64 + 1 };
            progress.finish(
                &ctx.log,
                stats.xferred_files,
                total - done,
                total,
                fs.lists.eof,
            );
        }
        if !ctx.out.log_before_transfer {
            let bytes = (w.data_bytes - bytes_before) as i64;
            ctx.out
                .log_item_bytes(&ctx.log, &file, a.iflags, None, bytes);
        }
    }
    // match.c match_report() (--debug=deltasum, part of -vv).
    if ctx.out.debug_deltasum >= 1 {
        ctx.log.log(
            LogCode::Info,
            &format!(
                "total: matches={}  hash_hits={}  false_alarms={} data={}\n",
                totals.0, totals.1, totals.2, stats.literal_data
            ),
        );
    }
    if let Some(rm) = &removals {
        // From here on (the goodbye) successes are handled as they arrive.
        rm.drain(&fs.lists);
        rm.keep_for_goodbye(&fs.lists);
    }
    let io_error = ctx.shared.io_error();
    if proto >= 30 && io_error != io_error_start {
        w.send_msg(MsgCode::IoError, &(io_error as i32).to_le_bytes())?;
    }
    wcodec.write(w, NDX_DONE)?;
    drain_msgs(w, msgs)?;
    w.flush()?;
    Ok(())
}

/// `--remove-source-files`: MSG_SUCCESS numbers caught from the stream and
/// the removals they call for (sender.c successful_send()).
struct SentRemovals {
    state: std::sync::Arc<std::sync::Mutex<RemovalState>>,
}

struct RemovalState {
    /// (ndx, the destination's dev/ino when the receiver is local).
    pending: Vec<(i32, Option<(u64, u64)>)>,
    /// After the last request: every listed file, so that late successes
    /// are handled inside the message handler.
    book: Option<std::collections::HashMap<i32, SentFile>>,
    log: crate::report::Logger,
    /// `--info=remove` (part of -vv).
    say_removed: bool,
    protocol: u32,
}

use crate::fsops::remove_source::{remove_sent_file, Removal, SentFile};

impl SentRemovals {
    fn install<R: Read>(ctx: &Ctx, r: &mut DemuxReader<R>) -> SentRemovals {
        let state = std::sync::Arc::new(std::sync::Mutex::new(RemovalState {
            pending: Vec::new(),
            book: None,
            log: ctx.log.clone(),
            say_removed: ctx.out.info_skip >= 1,
            protocol: ctx.protocol(),
        }));
        let mut inner = r.take_handler();
        let st = state.clone();
        r.set_handler(Box::new(move |code, payload| {
            if code != MsgCode::Success {
                return inner(code, payload);
            }
            // Length checked by the demuxer (4, or 20 from a local server).
            let ndx = i32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
            let dest_id = (payload.len() == 20).then(|| {
                let mut d = [0u8; 8];
                let mut i = [0u8; 8];
                d.copy_from_slice(&payload[4..12]);
                i.copy_from_slice(&payload[12..20]);
                (u64::from_le_bytes(d), u64::from_le_bytes(i))
            });
            let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
            let known = g.book.as_ref().map(|b| b.get(&ndx).cloned());
            match known {
                None => g.pending.push((ndx, dest_id)),
                Some(Some(f)) => g.remove(&f, dest_id),
                Some(None) => {
                    return Err(Error::protocol(format!(
                        "Invalid file index: {ndx} [successful_send]"
                    )))
                }
            }
            Ok(())
        }));
        SentRemovals { state }
    }

    fn drain(&self, lists: &FileLists) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (ndx, dest_id) in std::mem::take(&mut g.pending) {
            if let Some(e) = lists.get(ndx) {
                let f = g.sent_file(e);
                g.remove(&f, dest_id);
            }
        }
    }

    fn keep_for_goodbye(&self, lists: &FileLists) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut book = std::collections::HashMap::new();
        for l in &lists.lists {
            for (k, e) in l.entries.iter().enumerate() {
                book.insert(l.ndx_start + k as i32, g.sent_file(e));
            }
        }
        g.book = Some(book);
    }
}

impl RemovalState {
    fn sent_file(&self, e: &FileEntry) -> SentFile {
        SentFile {
            name: e.name.clone(),
            path: e.local_path.clone().unwrap_or_default(),
            size: e.size,
            mtime: e.mtime,
            mtime_nsec: (self.protocol >= 31 && e.mtime_nsec != 0).then_some(e.mtime_nsec),
        }
    }

    fn remove(&self, f: &SentFile, dest_id: Option<(u64, u64)>) {
        let name = String::from_utf8_lossy(&f.name);
        match remove_sent_file(&f.path, f, dest_id) {
            Removal::IsDestination => self.log.log(
                LogCode::ErrorXfer,
                &format!("ERROR: Skipping sender remove of destination file: {name}\n"),
            ),
            Removal::Removed if self.say_removed => self
                .log
                .log(LogCode::Info, &format!("sender removed {name}\n")),
            Removal::Removed => {}
            Removal::Changed => self.log.log(
                LogCode::ErrorXfer,
                &format!("ERROR: Skipping sender remove for changed file: {name}\n"),
            ),
            Removal::AlreadyGone => self.log.log(
                LogCode::Info,
                &format!("sender file already removed: {name}\n"),
            ),
            Removal::Failed(op, e) => self.log.log(
                LogCode::ErrorXfer,
                &format!(
                    "{}: [sender] sender failed to {op} {name}: {}\n",
                    self.log.prog,
                    strerror(&e)
                ),
            ),
        }
    }
}

/// Basis-type bytes after ITEM_BASIS_TYPE_FOLLOWS (rsync.h FNAMECMP_*).
pub const FNAMECMP_FNAME: u8 = 0x80;
pub const FNAMECMP_PARTIAL_DIR: u8 = 0x81;

/// The append mode in effect: below protocol 30 `--append` verifies the
/// prefix too (compat.c setup_protocol()).
pub fn append_mode(ctx: &Ctx) -> u8 {
    match ctx.opts.append_mode {
        1 if ctx.protocol() < 30 => 2,
        m => m,
    }
}

/// Whether a partial-dir basis is updated in place (CF_INPLACE_PARTIAL_DIR,
/// protocol >= 30).
pub fn inplace_partial(ctx: &Ctx) -> bool {
    ctx.protocol() >= 30 && ctx.neg.compat_flags & crate::wire::CF_INPLACE_PARTIAL_DIR != 0
}

/// sender.c send_files() updating_basis_file: the receiver writes over the
/// basis it reads from, so matches must never point behind the write.
fn updating_basis_file(ctx: &Ctx, fnamecmp_type: Option<u8>) -> bool {
    let t = fnamecmp_type.unwrap_or(FNAMECMP_FNAME);
    (inplace_partial(ctx) && t == FNAMECMP_PARTIAL_DIR)
        || (ctx.opts.inplace && (ctx.protocol() < 29 || t == FNAMECMP_FNAME))
}

/// The length the receiver already has in append mode, from the sum head
/// (count blocks, the last one `remainder` long).
pub fn append_prefix_len(head: &crate::wire::sums::SumHead) -> i64 {
    let mut len = head.count as i64 * head.blength as i64;
    if head.remainder != 0 {
        len -= (head.blength - head.remainder) as i64;
    }
    len.max(0)
}

/// Per-direction ndx state of one stream; it carries over from the transfer
/// into the goodbye exchange.
pub struct NdxCodecs {
    pub read: NdxCodec,
    pub write: NdxCodec,
}

impl NdxCodecs {
    pub fn new(protocol: u32) -> Self {
        NdxCodecs {
            read: NdxCodec::new(protocol),
            write: NdxCodec::new(protocol),
        }
    }
}

pub fn write_del_stats<W: Write + ?Sized>(
    w: &mut W,
    codec: &mut NdxCodec,
    v: &[i64; 5],
) -> Result<()> {
    codec.write(w, NDX_DEL_STATS)?;
    let files = v[0];
    write_varint(w, files as i32)?;
    for &x in &v[1..] {
        write_varint(w, x as i32)?;
    }
    Ok(())
}

/// main.c read_final_goodbye() on the sender.
pub fn read_final_goodbye<R: Read, W: Write>(
    ctx: &Ctx,
    r: &mut R,
    w: &mut MuxWriter<W>,
    msgs: Option<&Receiver<(MsgCode, Vec<u8>)>>,
    codecs: &mut NdxCodecs,
) -> Result<()> {
    let proto = ctx.protocol();
    let NdxCodecs {
        read: rcodec,
        write: wcodec,
    } = codecs;
    let am_server = ctx.am_server;
    let read_one = |r: &mut R, w: &mut MuxWriter<W>, rc: &mut NdxCodec, wc: &mut NdxCodec| {
        if proto < 29 {
            return read_int(r);
        }
        let mut echo = Vec::new();
        let ndx = read_ndx_skip_del_stats(r, rc, |v| {
            echo.push(v);
            Ok(())
        })?;
        if am_server {
            for v in echo {
                write_del_stats(w, wc, &v)?;
            }
        }
        Ok(ndx)
    };
    let mut i = read_one(r, w, rcodec, wcodec)?;
    if proto >= 31 && i == NDX_DONE {
        wcodec.write(w, NDX_DONE)?;
        drain_msgs(w, msgs)?;
        w.flush()?;
        i = read_one(r, w, rcodec, wcodec)?;
    }
    if i != NDX_DONE {
        return Err(Error::protocol(format!(
            "Invalid packet at end of run ({i}) [sender]"
        )));
    }
    drain_msgs(w, msgs)?;
    w.flush()?;
    Ok(())
}
