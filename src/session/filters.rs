//! The run's filter rules: parsed from the options in command-line order,
//! then exchanged as upstream does (exclude.c send_filter_list(),
//! recv_filter_list()). See protocol-notes/filter-rules.md.

use crate::error::Result;
use crate::filter::wire::{recv_filter_list, send_filter_list, WireOpts};
use crate::filter::{FilterList, ParseConfig};
use crate::options::{FilterArg, Options};
use std::io::{Read, Write};

/// The rules the options give, before any exchange. `--exclude-from=-`
/// reads standard input, which a server never does (it is the protocol).
pub fn base_list(opts: &Options, protocol: u32) -> Result<FilterList> {
    let mut cfg = ParseConfig::from_env();
    cfg.protocol = protocol as i32;
    cfg.delete_excluded = opts.delete_excluded;
    cfg.from0 = opts.from0;
    cfg.am_server = opts.server;
    let wants_stdin = opts
        .filter_args
        .iter()
        .any(|a| matches!(a, FilterArg::ExcludeFrom(n) | FilterArg::IncludeFrom(n) if n == b"-"));
    if wants_stdin && !opts.server {
        let mut text = Vec::new();
        std::io::stdin().read_to_end(&mut text)?;
        cfg.stdin = Some(text);
    }
    let mut list = FilterList::new(cfg);
    for arg in &opts.filter_args {
        match arg {
            FilterArg::Filter(r) => list.add_filter(r)?,
            FilterArg::Exclude(p) => list.add_exclude(p)?,
            FilterArg::Include(p) => list.add_include(p)?,
            FilterArg::ExcludeFrom(f) => list.add_rules_file(f, false)?,
            FilterArg::IncludeFrom(f) => list.add_rules_file(f, true)?,
            FilterArg::DashF => list.add_dash_f()?,
        }
    }
    if opts.delete_excluded {
        list.set_delete_excluded();
    }
    Ok(list)
}

fn wire_opts(opts: &Options, protocol: u32, am_sender: bool, local_server: bool) -> WireOpts {
    WireOpts {
        protocol: protocol as i32,
        am_sender,
        delete_mode: opts.deleting(),
        delete_excluded: opts.delete_excluded,
        prune_empty_dirs: opts.prune_empty_dirs,
        local_server,
        cvs_exclude: opts.cvs_exclude,
    }
}

/// Client side: send what the server reads (nothing for a local copy,
/// whose server thread starts from its own copy of `list`).
pub fn client_rules<W: Write>(
    w: &mut W,
    mut list: FilterList,
    opts: &Options,
    protocol: u32,
    am_sender: bool,
    local_server: bool,
) -> Result<FilterList> {
    add_partial_dir_rule(&mut list, opts, protocol, am_sender)?;
    send_filter_list(
        w,
        &mut list,
        &wire_opts(opts, protocol, am_sender, local_server),
    )?;
    Ok(list)
}

/// Server side: the server's own rules (`list`) plus what the client sends.
pub fn server_rules<R: Read>(
    r: &mut R,
    mut list: FilterList,
    opts: &Options,
    protocol: u32,
    local_server: bool,
) -> Result<FilterList> {
    if local_server {
        add_partial_dir_rule(&mut list, opts, protocol, opts.sender)?;
    }
    recv_filter_list(
        r,
        &mut list,
        &wire_opts(opts, protocol, opts.sender, local_server),
    )?;
    Ok(list)
}

/// compat.c setup_protocol(): a relative partial dir is never sent nor
/// deleted. The rule is perishable (it does not keep a directory from
/// deletion) except on a sender below protocol 30. Only a client or a
/// local server adds it; a remote server gets it with the client's rules.
fn add_partial_dir_rule(
    list: &mut FilterList,
    opts: &Options,
    protocol: u32,
    am_sender: bool,
) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Some(pd) = opts.partial_dir.as_deref() else {
        return Ok(());
    };
    let pd = pd.as_bytes();
    if pd.first() == Some(&b'/') {
        return Ok(());
    }
    let mut rule = b"-".to_vec();
    if !am_sender || protocol >= 30 {
        rule.push(b'p');
    }
    rule.push(b' ');
    rule.extend_from_slice(pd);
    rule.push(b'/');
    list.add_filter(&rule)
}
