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
        let head = read_sum_head(r, proto, xfer_len, csum_length)?;
        let sums = read_block_sums(r, &head)?;
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
        let ms = if head.count == 0 {
            let mut ms = crate::delta::matcher::MatchStats::default();
            let mut chunk = vec![0u8; 256 * 1024];
            let mut remaining = file_len.max(0) as usize;
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
    let io_error = ctx.shared.io_error();
    if proto >= 30 && io_error != io_error_start {
        w.send_msg(MsgCode::IoError, &(io_error as i32).to_le_bytes())?;
    }
    wcodec.write(w, NDX_DONE)?;
    drain_msgs(w, msgs)?;
    w.flush()?;
    Ok(())
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
