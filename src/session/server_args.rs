//! The argument list a client sends to the remote `--server` (upstream:
//! options.c server_options(), safe_arg(); main.c do_cmd()). Pinned by the
//! goldens in compat/server-args/.
//!
//! Only options gensync implements can appear here; the parser refuses the
//! rest before a connection is made.

use super::client_info_letters;
use crate::options::{DeleteMode, Options};
use std::os::unix::ffi::OsStrExt;

/// Characters the remote shell would interpret (safe_arg() SHELL_CHARS).
const SHELL_CHARS: &[u8] = b"!#$&;|<>(){}\"'` \t\n\r\\";
const WILD_CHARS: &[u8] = b"*?[]";

/// What kind of word safe_arg() is quoting; upstream tells them apart by
/// the `opt` pointer.
#[derive(Debug, Clone, Copy)]
pub enum ArgKind<'a> {
    /// A file name: wildcards stay live for the remote shell.
    File,
    /// `--opt=value` (or a bare value when the name is empty).
    Opt(&'a str),
    /// A `-M` word: like an option, but split again under `--old-args`.
    SplitWhenOld,
}

/// Escape one argument for the remote shell (options.c safe_arg()). With
/// `-s` nothing passes through a shell, and `--old-args` turns quoting off
/// for file names (once) or everything (twice).
pub fn safe_arg(kind: ArgKind, arg: &[u8], o: &Options, am_sender: bool) -> Vec<u8> {
    let is_filename = matches!(kind, ArgKind::File);
    let mut out = Vec::with_capacity(arg.len() + 8);
    if let ArgKind::Opt(name) = kind {
        if !name.is_empty() {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
        }
    }
    if is_filename && arg.first() == Some(&b'-') {
        out.extend_from_slice(b"./");
    }
    let quote =
        !o.protect_args && o.old_args < 2 && (o.old_args == 0 || matches!(kind, ArgKind::Opt(_)));
    if !quote {
        out.extend_from_slice(arg);
        return out;
    }
    let tilde = is_filename && arg.first() == Some(&b'~') && !am_sender && !arg.contains(&b'/');
    if tilde {
        out.push(b'\\');
    }
    for (i, &c) in arg.iter().enumerate() {
        if c == b'\\' {
            let next_wild = arg.get(i + 1).is_some_and(|n| WILD_CHARS.contains(n));
            if !is_filename || !next_wild {
                out.push(b'\\');
            }
        } else if SHELL_CHARS.contains(&c) || (!is_filename && WILD_CHARS.contains(&c)) {
            out.push(b'\\');
        }
        out.push(c);
    }
    out
}

/// `host:FILE` (or `:FILE`) in a `--files-from` value: the list lives on
/// the remote side (options.c check_for_hostspec()). Returns (host, file).
pub fn files_from_host(arg: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', arg)?;
    let host = &arg[..colon];
    if host.contains(&b'/') || arg[colon + 1..].starts_with(b":") {
        return None;
    }
    Some((host, &arg[colon + 1..]))
}

/// server_options(): `--server [--sender] -FLAGS [long options]`.
/// `am_sender` is the client's role.
/// With `-s`, the second value is where the command line ends: the words
/// from there on travel over the connection instead.
pub fn server_options(o: &Options, am_sender: bool) -> (Vec<String>, Option<usize>) {
    let mut args = vec!["--server".to_string()];
    if !am_sender {
        args.push("--sender".to_string());
    }
    let mut f = String::from("-");
    if o.protect_args {
        f.push('s');
    }
    for _ in 0..o.verbose.min(9) {
        f.push('v');
    }
    if o.make_backups {
        f.push('b');
    }
    if o.update {
        f.push('u');
    }
    if o.dry_run {
        f.push('n');
    }
    if o.links {
        f.push('l');
    }
    if o.dirs_explicit || (o.dirs && !o.recursive && (o.list_only || (o.deleting() && am_sender))) {
        f.push('d');
    }
    if am_sender && o.keep_dirlinks {
        f.push('K');
    }
    if am_sender && o.prune_empty_dirs {
        f.push('m');
    }
    if am_sender && o.omit_dir_times && !o.omit_dir_times_implied {
        f.push('O');
    }
    if am_sender && o.omit_link_times {
        f.push('J');
    }
    if !am_sender && o.copy_links {
        f.push('L');
    }
    if !am_sender && o.copy_dirlinks {
        f.push('k');
    }
    if o.whole_file == Some(true) {
        f.push('W');
    }
    for _ in 0..o.hard_links.min(2) {
        f.push('H');
    }
    if o.owner {
        f.push('o');
    }
    if o.group {
        f.push('g');
    }
    if o.devices {
        f.push('D');
    }
    if o.times {
        f.push('t');
    }
    for _ in 0..o.atimes.min(2) {
        f.push('U');
    }
    if o.perms {
        f.push('p');
    } else if o.executability && am_sender {
        f.push('E');
    }
    if o.recursive {
        f.push('r');
    }
    if o.checksum {
        f.push('c');
    }
    if o.cvs_exclude {
        f.push('C');
    }
    if o.ignore_times {
        f.push('I');
    }
    if o.relative {
        f.push('R');
    }
    for _ in 0..o.one_file_system.min(2) {
        f.push('x');
    }
    if o.sparse {
        f.push('S');
    }
    // do_compression == CPRES_ZLIB: plain -z (the server negotiates too)
    // or an explicit zlib choice (then --old-compress follows).
    if o.compress == 1 {
        f.push('z');
    }
    // The capability letters only mean something to protocol >= 30 peers.
    if o.protocol.unwrap_or(32) >= 30 {
        f.push_str("e.");
        f.push_str(&client_info_letters(o, am_sender));
    }
    if f.len() > 1 {
        args.push(f);
    }
    let split = o.protect_args.then_some(args.len());
    if o.list_only && o.operands.len() > 1 {
        args.push("--list-only".to_string());
    }
    if o.dirs && !o.recursive && o.deleting() && am_sender {
        args.push("--no-r".to_string());
    }
    if o.compress != 0 {
        if let Some(level) = o.compress_level {
            args.push(format!("--compress-level={level}"));
        }
    }
    if o.devices {
        if !o.specials {
            args.push("--no-specials".to_string());
        }
    } else if o.specials {
        args.push("--specials".to_string());
    }
    if am_sender {
        let has_i =
            o.itemize_changes > 0 || o.out_format.as_deref().is_some_and(|f| f.contains("%i"));
        if o.itemize_changes > 1 {
            args.push("--log-format=%i%I".to_string());
        } else if has_i {
            args.push("--log-format=%i".to_string());
        } else if o.out_format.as_deref().is_some_and(|f| f.contains("%o")) {
            args.push("--log-format=%o".to_string());
        } else if (o.out_format.is_some() || o.itemize_changes > 0) && o.verbose == 0 {
            args.push("--log-format=X".to_string());
        }
    }
    if let Some(b) = o.block_size {
        args.push(format!("-B{b}"));
    }
    if o.timeout > 0 {
        args.push(format!("--timeout={}", o.timeout));
    }
    if o.bwlimit > 0 {
        args.push(format!("--bwlimit={}", o.bwlimit));
    }
    if let Some(dir) = &o.backup_dir {
        // Split in two words so the remote shell can expand `~/path`.
        args.push("--backup-dir".into());
        args.push(
            String::from_utf8_lossy(&safe_arg(ArgKind::Opt(""), dir, o, am_sender)).into_owned(),
        );
    }
    let default_suffix: &[u8] = if o.backup_dir.is_some() { b"" } else { b"~" };
    if o.backup_suffix != default_suffix {
        args.push(
            String::from_utf8_lossy(&safe_arg(
                ArgKind::Opt("--suffix"),
                &o.backup_suffix,
                o,
                am_sender,
            ))
            .into_owned(),
        );
    }
    if let Some(c) = &o.checksum_choice {
        args.push(
            String::from_utf8_lossy(&safe_arg(
                ArgKind::Opt("--checksum-choice"),
                c.as_bytes(),
                o,
                am_sender,
            ))
            .into_owned(),
        );
    }
    if o.compress == 2 {
        args.push("--new-compress".into());
    } else if let Some(c) = &o.compress_choice {
        if o.compress == 1 {
            args.push("--old-compress".into());
        } else {
            args.push(
                String::from_utf8_lossy(&safe_arg(
                    ArgKind::Opt("--compress-choice"),
                    c.as_bytes(),
                    o,
                    am_sender,
                ))
                .into_owned(),
            );
        }
    }
    if am_sender {
        match o.max_delete {
            Some(n) if n > 0 => args.push(format!("--max-delete={n}")),
            Some(_) => args.push("--max-delete=-1".into()),
            None => {}
        }
        if o.min_size >= 0 {
            args.push(format!("--min-size={}", o.min_size));
        }
        if o.max_size >= 0 {
            args.push(format!("--max-size={}", o.max_size));
        }
        match o.delete_mode {
            DeleteMode::Before => args.push("--delete-before".into()),
            DeleteMode::Delay => args.push("--delete-delay".into()),
            DeleteMode::During => args.push("--delete-during".into()),
            DeleteMode::After => args.push("--delete-after".into()),
            DeleteMode::Auto if !o.delete_excluded => args.push("--delete".into()),
            DeleteMode::Auto | DeleteMode::Off => {}
        }
        if o.delete_excluded {
            args.push("--delete-excluded".into());
        }
        if o.force {
            args.push("--force".into());
        }
        if o.super_user == Some(true) {
            args.push("--super".into());
        }
        if o.size_only {
            args.push("--size-only".into());
        }
        if o.stats {
            args.push("--stats".into());
        }
    } else if let Some(s) = &o.skip_compress {
        args.push(
            String::from_utf8_lossy(&safe_arg(
                ArgKind::Opt("--skip-compress"),
                s.as_bytes(),
                o,
                am_sender,
            ))
            .into_owned(),
        );
    }
    if let Some(arg) = &o.max_alloc_arg {
        if o.max_alloc != crate::options::DEFAULT_MAX_ALLOC {
            args.push(
                String::from_utf8_lossy(&safe_arg(
                    ArgKind::Opt("--max-alloc"),
                    arg.as_bytes(),
                    o,
                    am_sender,
                ))
                .into_owned(),
            );
        }
    }
    // --delete-missing-args needs both sides; a sending client ignores
    // missing names by itself.
    if o.missing_args == 2 {
        args.push("--delete-missing-args".into());
    } else if o.missing_args == 1 && !am_sender {
        args.push("--ignore-missing-args".into());
    }
    if o.modify_window != 0 && am_sender {
        if o.modify_window < 0 {
            args.push(format!("-@{}", o.modify_window));
        } else {
            args.push(format!("--modify-window={}", o.modify_window));
        }
    }
    if let Some(seed) = o.checksum_seed {
        if seed != 0 {
            args.push(format!("--checksum-seed={seed}"));
        }
    }
    match &o.partial_dir {
        Some(d) if am_sender => {
            // The `.~tmp~` that --delay-updates implies is not named.
            if !(o.delay_updates && d.as_bytes() == b".~tmp~") {
                args.push("--partial-dir".into());
                args.push(
                    String::from_utf8_lossy(&safe_arg(
                        ArgKind::Opt(""),
                        d.as_bytes(),
                        o,
                        am_sender,
                    ))
                    .into_owned(),
                );
            }
            if o.delay_updates {
                args.push("--delay-updates".into());
            }
        }
        _ if o.partial && am_sender => args.push("--partial".into()),
        _ => {}
    }
    if o.ignore_errors {
        args.push("--ignore-errors".into());
    }
    if o.copy_unsafe_links {
        args.push("--copy-unsafe-links".into());
    }
    if o.safe_links {
        args.push("--safe-links".into());
    }
    if o.numeric_ids {
        args.push("--numeric-ids".into());
    }
    if am_sender {
        for (name, map) in [("--usermap", &o.usermap), ("--groupmap", &o.groupmap)] {
            if let Some(m) = map {
                let a = safe_arg(ArgKind::Opt(name), m, o, am_sender);
                args.push(String::from_utf8_lossy(&a).into_owned());
            }
        }
        if o.ignore_existing {
            args.push("--ignore-existing".into());
        }
        if o.existing {
            args.push("--existing".into());
        }
        if let Some(t) = &o.temp_dir {
            args.push("--temp-dir".into());
            args.push(
                String::from_utf8_lossy(&safe_arg(ArgKind::Opt(""), t.as_bytes(), o, am_sender))
                    .into_owned(),
            );
        }
        if o.fsync {
            args.push("--fsync".into());
        }
    }
    if o.append_mode > 0 {
        if o.append_mode > 1 {
            args.push("--append".into());
        }
        args.push("--append".into());
    } else if o.inplace {
        args.push("--inplace".into());
        // Upstream's workaround for old servers and --inplace --sparse.
        if o.sparse && o.whole_file == Some(false) && am_sender {
            args.push("--no-W".into());
        }
    }
    if let Some(ff) = &o.files_from {
        let remote = files_from_host(ff.as_bytes()).map(|(_, path)| path);
        if !am_sender || remote.is_some() {
            if let Some(path) = remote {
                args.push("--files-from".into());
                args.push(
                    String::from_utf8_lossy(&safe_arg(ArgKind::Opt(""), path, o, am_sender))
                        .into_owned(),
                );
                if o.from0 {
                    args.push("--from0".into());
                }
            } else {
                args.push("--files-from=-".into());
                args.push("--from0".into());
            }
            if !o.relative {
                args.push("--no-relative".into());
            }
        }
    }
    // Upstream checks its own highest protocol here, not the negotiated one.
    if o.relative && !o.implied_dirs && (!am_sender || o.protocol.unwrap_or(32) >= 30) {
        args.push("--no-implied-dirs".into());
    }
    match o.remove_source_files {
        1 => args.push("--remove-source-files".into()),
        2 => args.push("--remove-sent-files".into()),
        _ => {}
    }
    if o.preallocate && am_sender {
        args.push("--preallocate".into());
    }
    if o.open_noatime && o.atimes <= 1 {
        args.push("--open-noatime".into());
    }
    if o.mkpath && am_sender {
        args.push("--mkpath".into());
    }
    for m in &o.remote_options {
        args.push(
            String::from_utf8_lossy(&safe_arg(ArgKind::SplitWhenOld, m.as_bytes(), o, am_sender))
                .into_owned(),
        );
    }
    (args, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_pull_flags_match_upstream_capture() {
        // rsync 3.5.0 sends `-vlogDtpre.iLsfxCIvu` for -av push; we do not
        // offer `i` (incremental recursion) or `s` (iconv).
        let o = Options {
            verbose: 1,
            recursive: true,
            links: true,
            perms: true,
            times: true,
            group: true,
            owner: true,
            devices: true,
            specials: true,
            ..Options::default()
        };
        assert_eq!(
            server_options(&o, true).0,
            ["--server", "-vlogDtpre.iLfxCIvu"]
        );
        assert_eq!(
            server_options(&Options { verbose: 0, ..o }, false).0,
            ["--server", "--sender", "-logDtpre.iLfxCIvu"]
        );
    }

    #[test]
    fn safe_arg_escapes_like_upstream() {
        let o = Options::default();
        assert_eq!(safe_arg(ArgKind::File, b"a b", &o, true), b"a\\ b");
        assert_eq!(safe_arg(ArgKind::File, b"-x", &o, true), b"./-x");
        assert_eq!(safe_arg(ArgKind::File, b"*.c", &o, true), b"*.c");
        assert_eq!(
            safe_arg(ArgKind::Opt("--suffix"), b"*~", &o, true),
            b"--suffix=\\*~"
        );
        assert_eq!(
            safe_arg(ArgKind::SplitWhenOld, b"--x=a b", &o, true),
            b"--x=a\\ b"
        );
        let old = Options {
            old_args: 1,
            ..Options::default()
        };
        assert_eq!(safe_arg(ArgKind::File, b"a b", &old, true), b"a b");
        assert_eq!(
            safe_arg(ArgKind::Opt("--suffix"), b"*~", &old, true),
            b"--suffix=\\*~"
        );
        assert_eq!(
            safe_arg(ArgKind::SplitWhenOld, b"-x a", &old, true),
            b"-x a"
        );
        let secluded = Options {
            protect_args: true,
            ..Options::default()
        };
        assert_eq!(safe_arg(ArgKind::File, b"-a b", &secluded, true), b"./-a b");
    }
}
