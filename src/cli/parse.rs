//! argv -> options, following the popt rules rsync 3.5.0 is built with
//! (upstream: parse_arguments() in options.c and the popt library).
//!
//! popt matches long names exactly (no abbreviations), bundles short flags
//! (`-avz`), lets a value-taking short option swallow the rest of its word
//! (`-e.iLsfxCIvu`, `-B1024`, one leading `=` dropped) or the next word, and
//! collects operands from anywhere on the line until `--`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::cli::option_table::{find_long, find_short, ArgKind, OptRow};
use crate::cli::options_build::{Builder, Flow};
use crate::error::Error;

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    /// A transfer (or server/daemon run). An empty operand list outside server
    /// and daemon mode is rsync's "usage to stderr, exit 1" case; the caller
    /// decides how to show that.
    Run(Box<crate::options::Options>),
    /// Print `help::help_text()` to stdout and exit 0.
    Help,
    /// Print `help::version_text()` to stdout and exit 0.
    Version,
    /// `-VV`: print `help::version_json()` to stdout and exit 0.
    VersionJson,
}

/// The value popt hands to an option's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OptValue {
    None,
    Str(OsString),
    Int(i32),
}

/// Parses `args` (argv without argv[0]). `program_name` is the basename of
/// argv[0] and ends up in `Options::program_name`.
///
/// Errors carry rsync's exit code (1 for usage errors, 4 for an unknown
/// checksum name, 2 for an out-of-range `--protocol`); the caller prints
/// `"{program_name}: {msg}"`.
pub fn parse_args(args: &[OsString], program_name: &str) -> crate::Result<Action> {
    // popt stops option processing at the first operand when either of these
    // is set, and rsync inherits that.
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some()
        || std::env::var_os("POSIX_ME_HARDER").is_some();
    parse_with(args, program_name, posix)
}

/// `parse_args` with the environment made explicit.
pub(crate) fn parse_with(
    args: &[OsString],
    program_name: &str,
    posix_me_harder: bool,
) -> crate::Result<Action> {
    let mut b = Builder::new(program_name);
    let mut operands: Vec<OsString> = Vec::new();
    let mut only_operands = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bytes = arg.as_bytes();
        i += 1;
        if only_operands {
            operands.push(arg.clone());
            continue;
        }
        if bytes == b"--" {
            only_operands = true;
            continue;
        }
        // "-" and "" are operands, like anything not starting with a dash.
        if bytes.len() < 2 || bytes[0] != b'-' {
            operands.push(arg.clone());
            only_operands = posix_me_harder;
            continue;
        }
        let flow = if bytes[1] == b'-' {
            long_option(&mut b, args, &mut i, arg)?
        } else {
            short_bundle(&mut b, args, &mut i, arg)?
        };
        if flow == Flow::Help {
            return Ok(Action::Help);
        }
    }
    b.finish(operands, args.len())
}

/// `--name`, `--name=value` or `--name value`.
fn long_option(
    b: &mut Builder,
    args: &[OsString],
    i: &mut usize,
    arg: &OsStr,
) -> crate::Result<Flow> {
    let body = &arg.as_bytes()[2..];
    let (name, inline) = match body.iter().position(|&c| c == b'=') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    let Some(row) = find_long(name) else {
        return Err(popt_error(b, arg, "unknown option"));
    };
    if !row.arg.takes_arg() {
        if inline.is_some() {
            return Err(popt_error(b, arg, "option does not take an argument"));
        }
        return b.apply(row, OptValue::None);
    }
    let (raw, from): (OsString, &OsStr) = match inline {
        Some(v) => (OsString::from_vec(v.to_vec()), arg),
        None => match args.get(*i) {
            Some(next) => {
                *i += 1;
                (next.clone(), next.as_os_str())
            }
            None => return Err(popt_error(b, arg, "missing argument")),
        },
    };
    let value = convert(b, row, raw, from)?;
    b.apply(row, value)
}

/// `-abc`: each letter an option until one takes a value; that one gets the
/// rest of the word (minus one leading `=`) or, if nothing is left, the next
/// word, whatever it looks like.
fn short_bundle(
    b: &mut Builder,
    args: &[OsString],
    i: &mut usize,
    arg: &OsStr,
) -> crate::Result<Flow> {
    let bytes = arg.as_bytes();
    let mut pos = 1;
    while pos < bytes.len() {
        let Some(row) = find_short(bytes[pos]) else {
            return Err(popt_error(b, arg, "unknown option"));
        };
        pos += 1;
        let rest = &bytes[pos..];
        if !row.arg.takes_arg() {
            // popt treats "-v=..." as a value given to a flag.
            if rest.first() == Some(&b'=') {
                return Err(popt_error(b, arg, "option does not take an argument"));
            }
            if b.apply(row, OptValue::None)? == Flow::Help {
                return Ok(Flow::Help);
            }
            continue;
        }
        let (raw, from): (OsString, &OsStr) = if !rest.is_empty() {
            let v = rest.strip_prefix(b"=").unwrap_or(rest);
            (OsString::from_vec(v.to_vec()), arg)
        } else {
            match args.get(*i) {
                Some(next) => {
                    *i += 1;
                    (next.clone(), next.as_os_str())
                }
                None => return Err(popt_error(b, arg, "missing argument")),
            }
        };
        let value = convert(b, row, raw, from)?;
        return b.apply(row, value);
    }
    Ok(Flow::Continue)
}

/// Converts a raw value the way popt does for the row's kind. `from` is the
/// argv word the value came from, which is what popt names in its errors.
fn convert(b: &Builder, row: &OptRow, raw: OsString, from: &OsStr) -> crate::Result<OptValue> {
    match row.arg {
        ArgKind::None => Ok(OptValue::None),
        ArgKind::Str => Ok(OptValue::Str(raw)),
        ArgKind::Int => match parse_c_int(raw.as_bytes()) {
            Ok(n) => Ok(OptValue::Int(n)),
            Err(IntError::Invalid) => Err(popt_error(b, from, "invalid numeric value")),
            Err(IntError::Range) => Err(popt_error(b, from, "number too large or too small")),
        },
    }
}

/// An error in popt's words: "BADOPTION: REASON", with the prefix rsync adds
/// when the server side is the one complaining.
fn popt_error(b: &Builder, bad: &OsStr, reason: &str) -> Error {
    let prefix = if b.is_server() {
        "on remote machine: "
    } else {
        ""
    };
    Error::syntax(format!("{prefix}{}: {reason}", bad.to_string_lossy()))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IntError {
    Invalid,
    Range,
}

/// A C `int` as popt reads it: strtoll with base 0 (leading blanks, a sign,
/// `0x` hex, `0` octal), the whole string consumed, then checked against the
/// `int` range. An empty string is 0, as with popt.
pub(crate) fn parse_c_int(s: &[u8]) -> Result<i32, IntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut p = 0;
    while p < s.len() && matches!(s[p], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        p += 1;
    }
    let mut negative = false;
    if p < s.len() && (s[p] == b'+' || s[p] == b'-') {
        negative = s[p] == b'-';
        p += 1;
    }
    let hex_digit = |c: u8| c.is_ascii_hexdigit();
    let radix: u32 = if s.len() > p + 2
        && s[p] == b'0'
        && (s[p + 1] == b'x' || s[p + 1] == b'X')
        && hex_digit(s[p + 2])
    {
        p += 2;
        16
    } else if p < s.len() && s[p] == b'0' {
        8
    } else {
        10
    };
    let start = p;
    let mut value: i128 = 0;
    let mut overflow = false;
    while p < s.len() {
        let Some(d) = (s[p] as char).to_digit(radix) else {
            break;
        };
        value = value * i128::from(radix) + i128::from(d);
        if value > i128::from(u64::MAX) {
            overflow = true;
            value = i128::from(u64::MAX);
        }
        p += 1;
    }
    // No digits at all: strtoll reports no conversion, so the unconsumed
    // text makes it invalid.
    if p == start || p != s.len() {
        return Err(IntError::Invalid);
    }
    let value = if negative { -value } else { value };
    if overflow || value > i128::from(i32::MAX) || value < i128::from(i32::MIN) {
        return Err(IntError::Range);
    }
    Ok(value as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use crate::options::{DeleteMode, Options, StderrMode};

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn parse(v: &[&str]) -> crate::Result<Action> {
        parse_with(&os(v), "rsync", false)
    }

    fn run(v: &[&str]) -> Options {
        match parse(v) {
            Ok(Action::Run(o)) => *o,
            Ok(other) => panic!("{v:?}: expected Run, got {other:?}"),
            Err(e) => panic!("{v:?}: unexpected error {e}"),
        }
    }

    fn err(v: &[&str]) -> Error {
        match parse(v) {
            Err(e) => e,
            Ok(a) => panic!("{v:?}: expected an error, got {a:?}"),
        }
    }

    fn err_msg(v: &[&str]) -> String {
        let e = err(v);
        assert_eq!(e.code, ExitCode::SYNTAX, "{v:?}: {e}");
        e.msg
    }

    #[test]
    fn bundled_short_flags() {
        let o = run(&["-av", "src", "dst"]);
        assert!(o.recursive && o.links && o.perms && o.times && o.owner && o.group);
        assert!(o.devices && o.specials && o.verbose == 1);
        let o = run(&["-avP", "src", "dst"]);
        assert!(o.partial && o.progress);
        assert_eq!(run(&["-vvv", "a", "b"]).verbose, 3);
        assert_eq!(run(&["-v", "-v", "--verbose", "a", "b"]).verbose, 3);
        assert_eq!(run(&["-xx", "a", "b"]).one_file_system, 2);
        assert_eq!(run(&["-ii", "a", "b"]).itemize_changes, 2);
    }

    #[test]
    fn archive_is_rlptgod_only() {
        let o = run(&["-a", "a", "b"]);
        assert!(o.recursive && o.links && o.perms && o.times);
        assert!(o.group && o.owner && o.devices && o.specials);
        assert!(o.dirs, "recursion implies dirs");
        assert!(!o.numeric_ids && !o.checksum);
    }

    #[test]
    fn no_forms_after_archive() {
        // Checked against rsync 3.5.0: `-a --no-o` keeps the rest of -a.
        let o = run(&["-a", "--no-o", "a", "b"]);
        assert!(!o.owner && o.group && o.perms && o.recursive);
        let o = run(&["-a", "--no-D", "--no-perms", "--no-t", "--no-l", "a", "b"]);
        assert!(!o.devices && !o.specials && !o.perms && !o.times && !o.links);
        assert!(o.owner && o.group);
        // Order matters: a later -a turns it back on.
        assert!(run(&["--no-o", "-a", "a", "b"]).owner);
        let o = run(&["-a", "--no-r", "--no-g", "--no-p", "a", "b"]);
        assert!(!o.recursive && !o.group && !o.perms);
        let o = run(&["-D", "--no-devices", "a", "b"]);
        assert!(!o.devices && o.specials);
        let o = run(&["-vv", "--no-v", "-W", "--no-whole-file", "a", "b"]);
        assert_eq!(o.verbose, 0);
        assert_eq!(o.whole_file, Some(false));
        assert_eq!(run(&["--no-W", "a", "b"]).whole_file, Some(false));
        assert_eq!(run(&["-W", "a", "b"]).whole_file, Some(true));
        assert_eq!(run(&["a", "b"]).whole_file, None);
        let o = run(&["-xx", "--no-x", "-ii", "--no-i", "-c", "--no-c", "a", "b"]);
        assert_eq!(
            (o.one_file_system, o.itemize_changes, o.checksum),
            (0, 0, false)
        );
        let o = run(&["-P", "--no-progress", "a", "b"]);
        assert!(o.partial && !o.progress);
        let o = run(&["-O", "--no-O", "--mkpath", "--no-mkpath", "a", "b"]);
        assert!(!o.omit_dir_times && !o.mkpath);
        let o = run(&[
            "--numeric-ids",
            "--no-numeric-ids",
            "--blocking-io",
            "a",
            "b",
        ]);
        assert!(!o.numeric_ids && o.blocking_io);
        let o = run(&[
            "-a",
            "--no-times",
            "--no-owner",
            "--no-group",
            "--no-links",
            "a",
            "b",
        ]);
        assert!(!o.times && !o.owner && !o.group && !o.links);
    }

    #[test]
    fn no_forms_that_do_not_exist_upstream() {
        // rsync has no generic --no-X: these are unknown there too.
        assert_eq!(err_msg(&["--no-ownr", "a"]), "--no-ownr: unknown option");
        assert_eq!(err_msg(&["--no-a", "a"]), "--no-a: unknown option");
        assert_eq!(err_msg(&["--no-n", "a"]), "--no-n: unknown option");
    }

    #[test]
    fn human_readable_levels() {
        assert_eq!(run(&["a", "b"]).human_readable, 1);
        assert_eq!(run(&["-h", "a", "b"]).human_readable, 2);
        assert_eq!(run(&["-hh", "a", "b"]).human_readable, 3);
        assert_eq!(run(&["--no-h", "a", "b"]).human_readable, 0);
        assert_eq!(
            run(&["-hh", "--no-human-readable", "a", "b"]).human_readable,
            0
        );
        assert_eq!(run(&["--no-h", "-h", "a", "b"]).human_readable, 1);
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(&["--help"]), Ok(Action::Help)));
        // -h on its own is help; with anything else it is --human-readable.
        assert!(matches!(parse(&["-h"]), Ok(Action::Help)));
        assert!(matches!(parse(&["-hh"]), Ok(Action::Help)));
        assert!(matches!(parse(&["-vh"]), Ok(Action::Help)));
        assert!(matches!(parse(&["--human-readable"]), Ok(Action::Help)));
        assert!(matches!(parse(&["-h", "a"]), Ok(Action::Run(_))));
        assert!(matches!(parse(&["-h", "-h"]), Ok(Action::Run(_))));
        // --help acts at once; an earlier bad option wins.
        assert!(matches!(parse(&["--help", "--bogus"]), Ok(Action::Help)));
        assert_eq!(err_msg(&["--bogus", "--help"]), "--bogus: unknown option");
        assert!(matches!(parse(&["--version"]), Ok(Action::Version)));
        assert!(matches!(parse(&["-V", "a", "b"]), Ok(Action::Version)));
        // --version acts after the whole line parsed.
        assert_eq!(err_msg(&["-V", "--bogus"]), "--bogus: unknown option");
        assert_eq!(
            err_msg(&["--help=1"]),
            "--help=1: option does not take an argument"
        );
    }

    #[test]
    fn no_abbreviations() {
        // rsync 3.5.0 (popt) rejects every abbreviation, ambiguous or not.
        for a in [
            "--verb", "--vers", "--dele", "--recur", "--stat", "--prog", "--whole", "--he",
        ] {
            assert_eq!(err_msg(&[a, "x"]), format!("{a}: unknown option"));
        }
        assert_eq!(err_msg(&["--out=x", "a"]), "--out=x: unknown option");
        assert_eq!(err_msg(&["--c=md5", "a"]), "--c=md5: unknown option");
        assert_eq!(err_msg(&["--=x", "a"]), "--=x: unknown option");
        assert_eq!(err_msg(&["---", "a"]), "---: unknown option");
    }

    #[test]
    fn unknown_options() {
        let e = err(&["--bogus"]);
        assert_eq!(e.code, ExitCode::SYNTAX);
        assert_eq!(e.msg, "--bogus: unknown option");
        assert_eq!(err_msg(&["-vY", "a"]), "-vY: unknown option");
        assert_eq!(err_msg(&["-Yv", "a"]), "-Yv: unknown option");
        assert_eq!(err_msg(&["-vv-", "a"]), "-vv-: unknown option");
        assert_eq!(
            err_msg(&["a", "b", "--bogus=1"]),
            "--bogus=1: unknown option"
        );
    }

    #[test]
    fn flag_given_a_value() {
        assert_eq!(
            err_msg(&["--verbose=3", "a"]),
            "--verbose=3: option does not take an argument"
        );
        assert_eq!(
            err_msg(&["--stats=", "a"]),
            "--stats=: option does not take an argument"
        );
        assert_eq!(
            err_msg(&["--no-D=1", "a"]),
            "--no-D=1: option does not take an argument"
        );
        assert_eq!(
            err_msg(&["-v=", "a"]),
            "-v=: option does not take an argument"
        );
        assert_eq!(
            err_msg(&["-n=i", "a"]),
            "-n=i: option does not take an argument"
        );
    }

    #[test]
    fn missing_argument() {
        assert_eq!(err_msg(&["-e"]), "-e: missing argument");
        assert_eq!(err_msg(&["-ve"]), "-ve: missing argument");
        assert_eq!(err_msg(&["a", "--rsh"]), "--rsh: missing argument");
    }

    #[test]
    fn rsh_values() {
        let o = run(&["-e", "ssh -p 2222", "a", "h:b"]);
        assert_eq!(o.rsh.as_deref(), Some("ssh -p 2222"));
        assert_eq!(o.operands, os(&["a", "h:b"]));
        assert_eq!(run(&["-essh", "a", "b"]).rsh.as_deref(), Some("ssh"));
        assert_eq!(run(&["-e=ssh", "a", "b"]).rsh.as_deref(), Some("ssh"));
        assert_eq!(run(&["-e==x", "a", "b"]).rsh.as_deref(), Some("=x"));
        assert_eq!(run(&["-e=", "a", "b"]).rsh.as_deref(), Some(""));
        assert_eq!(
            run(&["--rsh=ssh -l u", "a", "b"]).rsh.as_deref(),
            Some("ssh -l u")
        );
        assert_eq!(run(&["--rsh", "ssh", "a", "b"]).rsh.as_deref(), Some("ssh"));
        assert_eq!(run(&["--rsh=", "a", "b"]).rsh.as_deref(), Some(""));
        // The next word is taken whatever it looks like, even "--" or "-v".
        let o = run(&["-e", "-v", "a", "b"]);
        assert_eq!((o.rsh.as_deref(), o.verbose), (Some("-v"), 0));
        let o = run(&["-e", "--", "a", "b"]);
        assert_eq!(o.rsh.as_deref(), Some("--"));
        assert_eq!(o.operands, os(&["a", "b"]));
        let o = run(&["--rsh", "--list-only", "a"]);
        assert_eq!(o.rsh.as_deref(), Some("--list-only"));
        // "-verbose" is -v followed by -e "rbose".
        let o = run(&["-verbose", "a"]);
        assert_eq!((o.verbose, o.rsh.as_deref()), (1, Some("rbose")));
        assert_eq!(
            run(&["--rsync-path=/opt/rsync", "a", "b"])
                .rsync_path
                .as_deref(),
            Some("/opt/rsync")
        );
    }

    #[test]
    fn operands_anywhere_and_double_dash() {
        let o = run(&["a", "-v", "b", "--stats"]);
        assert_eq!(o.operands, os(&["a", "b"]));
        assert!(o.verbose == 1 && o.stats);
        let o = run(&["-v", "--", "-n", "--stats", "--"]);
        assert_eq!(o.operands, os(&["-n", "--stats", "--"]));
        assert!(!o.dry_run && !o.stats);
        let o = run(&["-", "", "x"]);
        assert_eq!(o.operands, os(&["-", "", "x"]));
        // POSIXLY_CORRECT: the first operand ends the options.
        match parse_with(&os(&["a", "-v", "b"]), "rsync", true).unwrap() {
            Action::Run(o) => {
                assert_eq!(o.operands, os(&["a", "-v", "b"]));
                assert_eq!(o.verbose, 0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_utf8_operands_survive() {
        let raw = OsString::from_vec(vec![b's', 0xff, 0xfe, b'/']);
        let args = vec![OsString::from("-r"), raw.clone(), OsString::from("d")];
        match parse_with(&args, "gensync", false).unwrap() {
            Action::Run(o) => {
                assert_eq!(o.operands, vec![raw, OsString::from("d")]);
                assert_eq!(o.program_name, "gensync");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn landing_options() {
        let o = run(&["--append", "a", "b"]);
        assert_eq!((o.append_mode, o.inplace), (1, true));
        assert_eq!(run(&["--append-verify", "a", "b"]).append_mode, 2);
        // A client counts --append once; a server counts the words.
        assert_eq!(run(&["--append", "--append", "a", "b"]).append_mode, 1);
        let o = run(&["--server", "--append", "--append", ".", "d"]);
        assert_eq!(o.append_mode, 2);
        assert_eq!(run(&["--append", "--no-append", "a", "b"]).append_mode, 0);
        let o = run(&["--delay-updates", "a", "b"]);
        assert_eq!(
            o.partial_dir.as_deref(),
            Some(std::ffi::OsStr::new(".~tmp~"))
        );
        assert!(o.partial);
        let o = run(&["--partial-dir=x//y/", "a", "b"]);
        assert_eq!(o.partial_dir.as_deref(), Some(std::ffi::OsStr::new("x/y")));
        assert!(run(&["--partial-dir=.", "a", "b"]).partial_dir.is_none());
        // --inplace clears --partial for its own logic.
        assert!(!run(&["--inplace", "--partial", "a", "b"]).partial);
        assert_eq!(
            run(&["--remove-sent-files", "a", "b"]).remove_source_files,
            2
        );
        assert_eq!(
            err_msg(&["--append", "-W", "a", "b"]),
            "--append cannot be used with --whole-file"
        );
        assert_eq!(
            err_msg(&["--inplace", "--delay-updates", "a", "b"]),
            "--inplace cannot be used with --delay-updates"
        );
        assert_eq!(
            err_msg(&["--append", "--partial-dir=p", "a", "b"]),
            "--append cannot be used with --partial-dir"
        );
    }

    #[test]
    fn refused_options() {
        for (args, name) in [
            (&["-X", "a", "b"][..], "--xattrs"),
            (&["-avX", "a", "b"][..], "--xattrs"),
            (&["--xattrs", "a", "b"][..], "--xattrs"),
            (&["-y", "a", "b"][..], "--fuzzy"),
            (&["--link-dest=x", "a", "b"][..], "--link-dest"),
            (&["--info=progress2", "a", "b"][..], "--info"),
        ] {
            let e = err(args);
            assert_eq!(e.code, ExitCode::SYNTAX);
            assert_eq!(
                e.msg,
                format!("{name}: option not yet supported by gensync"),
                "{args:?}"
            );
        }
        // A bad number is reported before the refusal, as popt converts first.
        assert_eq!(
            err_msg(&["--timeout=x", "a"]),
            "--timeout=x: invalid numeric value"
        );
        // A missing value is reported before the refusal as well.
        assert_eq!(err_msg(&["a", "--exclude"]), "--exclude: missing argument");
    }

    #[test]
    fn compression_options() {
        // (args, do_compression, choice, level) as upstream's
        // server_options() would see them.
        for (args, num, choice, level) in [
            (&["-z", "a", "b"][..], 1, None, None),
            (&["-zz", "a", "b"][..], 2, Some("zlibx"), None),
            (&["-z", "-z", "--zc=auto", "a", "b"][..], 2, None, None),
            (&["--zc=ZSTD", "a", "b"][..], 4, Some("ZSTD"), None),
            (&["--old-compress", "a", "b"][..], 1, Some("zlib"), None),
            (
                &["--new-compress", "--zc=lz4", "a", "b"][..],
                3,
                Some("lz4"),
                None,
            ),
            (&["--zl=5", "a", "b"][..], -1, None, Some(5)),
            (&["-z", "--zc=none", "a", "b"][..], 0, Some("none"), None),
            (
                &["--zc=none", "--zl=3", "a", "b"][..],
                -1,
                Some("none"),
                Some(3),
            ),
            (&["-z", "--zc=zstd", "--no-z", "a", "b"][..], 0, None, None),
        ] {
            let o = run(args);
            assert_eq!(o.compress, num, "{args:?}");
            assert_eq!(o.compress_choice.as_deref(), choice, "{args:?}");
            assert_eq!(o.compress_level, level, "{args:?}");
        }
        let e = err(&["--zc=foo", "a", "b"]);
        assert_eq!(e.code, ExitCode::UNSUPPORTED);
        assert_eq!(e.msg, "unknown compress name: foo");
        assert_eq!(
            err_msg(&["--compress-level=x", "a"]),
            "--compress-level=x: invalid numeric value"
        );
        let o = run(&["--skip-compress=gz/jpg", "--zt=-2", "a", "b"]);
        assert_eq!(o.skip_compress.as_deref(), Some("gz/jpg"));
        assert_eq!(o.compress, 0);
    }

    #[test]
    fn harmless_negations_are_accepted() {
        let o = run(&[
            "--no-H",
            "--no-compress",
            "--no-z",
            "--no-A",
            "--no-X",
            "a",
            "b",
        ]);
        assert_eq!(o.operands.len(), 2);
        run(&[
            "--no-s",
            "--no-protect-args",
            "--no-secluded-args",
            "--no-old-args",
            "a",
            "b",
        ]);
        run(&[
            "--no-motd",
            "--no-iconv",
            "--no-8",
            "--no-timeout",
            "--no-R",
            "a",
            "b",
        ]);
    }

    #[test]
    fn modify_window_values() {
        assert_eq!(run(&["--modify-window=2", "a", "b"]).modify_window, 2);
        assert_eq!(run(&["-@1", "a", "b"]).modify_window, 1);
        assert_eq!(run(&["-@=3", "a", "b"]).modify_window, 3);
        assert_eq!(run(&["-@", "4", "a", "b"]).modify_window, 4);
        assert_eq!(run(&["-@-1", "a", "b"]).modify_window, -1);
        assert_eq!(run(&["--modify-window=", "a", "b"]).modify_window, 0);
        assert_eq!(run(&["--modify-window=0x10", "a", "b"]).modify_window, 16);
        assert_eq!(run(&["--modify-window=010", "a", "b"]).modify_window, 8);
        assert_eq!(
            run(&["--modify-window=-2147483648", "a", "b"]).modify_window,
            -2147483648
        );
        // popt names the word the value came from.
        assert_eq!(
            err_msg(&["--modify-window=abc", "a"]),
            "--modify-window=abc: invalid numeric value"
        );
        assert_eq!(
            err_msg(&["--modify-window", "abc", "a"]),
            "abc: invalid numeric value"
        );
        assert_eq!(err_msg(&["-@", "abc", "a"]), "abc: invalid numeric value");
        assert_eq!(err_msg(&["-v@abc", "a"]), "-v@abc: invalid numeric value");
        assert_eq!(err_msg(&["-@08", "a"]), "-@08: invalid numeric value");
        assert_eq!(
            err_msg(&["--modify-window=2147483648", "a"]),
            "--modify-window=2147483648: number too large or too small"
        );
        assert_eq!(
            err_msg(&["--protocol", "999999999999999999999", "a"]),
            "999999999999999999999: number too large or too small"
        );
    }

    #[test]
    fn c_int_parsing() {
        assert_eq!(parse_c_int(b""), Ok(0));
        assert_eq!(parse_c_int(b" 31"), Ok(31));
        assert_eq!(parse_c_int(b"+31"), Ok(31));
        assert_eq!(parse_c_int(b"-0x10"), Ok(-16));
        assert_eq!(parse_c_int(b"0777"), Ok(511));
        assert_eq!(parse_c_int(b"0"), Ok(0));
        for bad in [
            &b"31 "[..],
            b"0x",
            b"0x1g",
            b" ",
            b"+",
            b"-",
            b"08",
            b"99999999999999999999x",
        ] {
            assert_eq!(parse_c_int(bad), Err(IntError::Invalid), "{bad:?}");
        }
        assert_eq!(
            parse_c_int(b"99999999999999999999999999999"),
            Err(IntError::Range)
        );
        assert_eq!(parse_c_int(b"-2147483649"), Err(IntError::Range));
    }

    #[test]
    fn block_size() {
        assert_eq!(run(&["-B1024", "a", "b"]).block_size, Some(1024));
        assert_eq!(run(&["-B", "2048", "a", "b"]).block_size, Some(2048));
        assert_eq!(run(&["-B=4096", "a", "b"]).block_size, Some(4096));
        assert_eq!(run(&["--block-size=1k", "a", "b"]).block_size, Some(1024));
        assert_eq!(run(&["--block-size=1kb", "a", "b"]).block_size, Some(1000));
        assert_eq!(run(&["--block-size=1KiB", "a", "b"]).block_size, Some(1024));
        assert_eq!(run(&["--block-size=1.5k", "a", "b"]).block_size, Some(1536));
        assert_eq!(run(&["--block-size=1k-1", "a", "b"]).block_size, Some(1023));
        assert_eq!(
            run(&["--block-size=131072", "a", "b"]).block_size,
            Some(131072)
        );
        // 0 (and an empty value) means "pick one per file", as upstream.
        assert_eq!(run(&["-B0", "a", "b"]).block_size, None);
        assert_eq!(run(&["--block-size=", "a", "b"]).block_size, None);
        let too_big = "is too large (max: 128.00K)";
        assert_eq!(
            err_msg(&["-B", "200000", "a"]),
            format!("--block-size=200000 {too_big}")
        );
        assert_eq!(
            err_msg(&["-B=131073", "a"]),
            format!("--block-size=131073 {too_big}")
        );
        assert_eq!(
            err_msg(&["--block-size=-1", "a"]),
            format!("--block-size=-1 {too_big}")
        );
        assert_eq!(
            err_msg(&["--block-size", "1G", "a"]),
            format!("--block-size=1G {too_big}")
        );
        assert_eq!(
            err_msg(&["-B", "99999999999999999999999", "a"]),
            format!("--block-size=99999999999999999999999 {too_big}")
        );
        assert_eq!(err_msg(&["-Bx", "a"]), "--block-size=x is invalid");
        assert_eq!(err_msg(&["-B 1k", "a"]), "--block-size= 1k is invalid");
        assert_eq!(err_msg(&["-B", "+1", "a"]), "--block-size=+1 is invalid");
        // Below protocol 30 the old, larger limit applies, if --protocol came first.
        assert_eq!(
            run(&["--protocol=29", "-B", "200000", "a", "b"]).block_size,
            Some(200000)
        );
        assert_eq!(
            err_msg(&["-B", "200000", "--protocol=29", "a"]),
            format!("--block-size=200000 {too_big}")
        );
        assert_eq!(
            err_msg(&["--protocol=29", "-B", "1G", "a"]),
            "--block-size=1G is too large (max: 512.00M)"
        );
    }

    #[test]
    fn checksum_choice() {
        assert_eq!(
            run(&["--cc=md5", "a", "b"]).checksum_choice.as_deref(),
            Some("md5")
        );
        assert_eq!(
            run(&["--checksum-choice=xxh128,md5", "a", "b"])
                .checksum_choice
                .as_deref(),
            Some("xxh128,md5")
        );
        for ok in ["XXH3", "xxhash", "auto,md5", "md4,auto", "none", "xxh64"] {
            run(&["--cc", ok, "a", "b"]);
        }
        assert_eq!(run(&["--cc=auto", "a", "b"]).checksum_choice, None);
        assert_eq!(run(&["--cc=AUTO,auto", "a", "b"]).checksum_choice, None);
        // "none" for the transfer checksum forces whole-file copies.
        assert_eq!(run(&["--cc=none", "a", "b"]).whole_file, Some(true));
        assert_eq!(run(&["--cc=md5,none", "a", "b"]).whole_file, None);
        for (arg, shown) in [
            ("bogus", "bogus"),
            ("md5,bogus", "bogus"),
            ("bogus,md5", "bogus,md5"),
            ("", ""),
            (",", ","),
            ("md5,", ""),
            ("sha1", "sha1"),
        ] {
            let e = err(&["--cc", arg, "a", "b"]);
            assert_eq!(e.code, ExitCode::UNSUPPORTED);
            assert_eq!(e.msg, format!("unknown checksum name: {shown}"));
        }
    }

    #[test]
    fn checksum_seed_and_protocol() {
        assert_eq!(run(&["--checksum-seed=5", "a", "b"]).checksum_seed, Some(5));
        assert_eq!(
            run(&["--checksum-seed=0x10", "a", "b"]).checksum_seed,
            Some(16)
        );
        assert_eq!(run(&["--checksum-seed=0", "a", "b"]).checksum_seed, None);
        assert_eq!(
            err_msg(&["--checksum-seed=x", "a"]),
            "--checksum-seed=x: invalid numeric value"
        );
        assert_eq!(run(&["--protocol=29", "a", "b"]).protocol, Some(29));
        assert_eq!(run(&["--protocol=030", "a", "b"]).protocol, Some(24));
        assert_eq!(run(&["--protocol", "20", "a", "b"]).protocol, Some(20));
        assert_eq!(run(&["a", "b"]).protocol, None);
        let e = err(&["--protocol=33", "a", "b"]);
        assert_eq!(e.code, ExitCode::PROTOCOL);
        assert_eq!(e.msg, "--protocol must be no more than 32 on the Client.");
        let e = err(&["--protocol=19", "a", "b"]);
        assert_eq!(e.code, ExitCode::PROTOCOL);
        assert_eq!(e.msg, "--protocol must be at least 20 on the Client.");
        let e = err(&["--server", "--protocol=-1", ".", "x"]);
        assert_eq!(e.msg, "--protocol must be at least 20 on the Server.");
        assert_eq!(
            err_msg(&["--protocol=abc", "a"]),
            "--protocol=abc: invalid numeric value"
        );
    }

    #[test]
    fn delete_modes() {
        let mode = |v: &[&str]| run(v).delete_mode;
        assert_eq!(mode(&["-r", "a", "b"]), DeleteMode::Off);
        assert_eq!(mode(&["-r", "--delete", "a", "b"]), DeleteMode::Auto);
        assert_eq!(mode(&["-r", "--del", "a", "b"]), DeleteMode::During);
        assert_eq!(
            mode(&["-r", "--delete-before", "a", "b"]),
            DeleteMode::Before
        );
        assert_eq!(
            mode(&["-r", "--delete-during", "a", "b"]),
            DeleteMode::During
        );
        assert_eq!(mode(&["-r", "--delete-delay", "a", "b"]), DeleteMode::Delay);
        assert_eq!(mode(&["-r", "--delete-after", "a", "b"]), DeleteMode::After);
        assert_eq!(
            mode(&["-d", "--delete", "--delete-after", "a", "b"]),
            DeleteMode::After
        );
        // during and delay share one setting, so the last one wins.
        assert_eq!(
            mode(&["-r", "--delete-delay", "--del", "a", "b"]),
            DeleteMode::During
        );
        assert_eq!(
            mode(&["-r", "--del", "--delete-delay", "a", "b"]),
            DeleteMode::Delay
        );
        assert_eq!(
            err_msg(&["-r", "--delete-before", "--delete-after", "a", "b"]),
            "You may not combine multiple --delete-WHEN options."
        );
        assert_eq!(
            err_msg(&["--delete", "a", "b"]),
            "--delete does not work without --recursive (-r) or --dirs (-d)."
        );
        assert_eq!(
            err_msg(&["-r", "--no-r", "--delete", "a", "b"]),
            "--delete does not work without --recursive (-r) or --dirs (-d)."
        );
        // A lone operand implies --list-only and with it --dirs.
        assert_eq!(mode(&["--delete", "a"]), DeleteMode::Auto);
    }

    #[test]
    fn list_only_and_dirs() {
        let o = run(&["a"]);
        assert!(o.list_only && !o.list_only_explicit && o.dirs && !o.recursive);
        let o = run(&["a", "b"]);
        assert!(!o.list_only && !o.dirs);
        let o = run(&["--list-only", "a", "b"]);
        assert!(o.list_only && o.list_only_explicit && o.dirs);
        let o = run(&["--no-d", "a"]);
        assert!(o.list_only && !o.dirs);
        let o = run(&["-r", "--no-d", "a"]);
        assert!(o.dirs, "recursion always implies dirs");
        let o = run(&["-d", "a", "b"]);
        assert!(o.dirs && !o.list_only);
        // No operands at all: still "list only"; the caller shows usage.
        let o = run(&["-v"]);
        assert!(o.operands.is_empty() && o.list_only);
    }

    #[test]
    fn misc_flags() {
        let o = run(&[
            "-nqcuIW",
            "--size-only",
            "--existing",
            "--ignore-existing",
            "--stats",
            "--mkpath",
            "-O",
            "--numeric-ids",
            "a",
            "b",
        ]);
        assert!(o.dry_run && o.quiet && o.checksum && o.update && o.ignore_times);
        assert!(o.size_only && o.existing && o.ignore_existing && o.stats && o.mkpath);
        assert!(o.omit_dir_times && o.numeric_ids);
        assert!(run(&["--ignore-non-existing", "a", "b"]).existing);
        let o = run(&["--log-format=%n", "a", "b"]);
        assert_eq!(o.out_format.as_deref(), Some("%n"));
        let o = run(&["--out-format", "%i %n", "a", "b"]);
        assert_eq!(o.out_format.as_deref(), Some("%i %n"));
        assert!(run(&["--partial", "a", "b"]).partial);
        assert!(run(&["--progress", "a", "b"]).progress);
    }

    #[test]
    fn stderr_modes() {
        let m = |v: &str| run(&["--stderr", v, "a", "b"]).stderr_mode;
        assert_eq!(run(&["a", "b"]).stderr_mode, StderrMode::Errors);
        assert_eq!(m("errors"), StderrMode::Errors);
        assert_eq!(m("e"), StderrMode::Errors);
        assert_eq!(m("all"), StderrMode::All);
        assert_eq!(m("a"), StderrMode::All);
        assert_eq!(m("cl"), StderrMode::Client);
        assert_eq!(
            err_msg(&["--stderr=x", "a"]),
            "--stderr mode \"x\" is not one of errors, all, or client"
        );
        assert_eq!(
            err_msg(&["--stderr=", "a"]),
            "--stderr mode \"\" is not one of errors, all, or client"
        );
        assert_eq!(
            err_msg(&["--stderr=allx", "a"]),
            "--stderr mode \"allx\" is not one of errors, all, or client"
        );
        // What a client sends the server for --stderr=all / --stderr=client.
        assert_eq!(
            run(&["--msgs2stderr", "a", "b"]).stderr_mode,
            StderrMode::All
        );
        assert_eq!(
            run(&["--no-msgs2stderr", "a", "b"]).stderr_mode,
            StderrMode::Client
        );
    }

    #[test]
    fn server_compact_flags() {
        let o = run(&["--server", "-vlogDtpre.iLsfxCIvu", ".", "dst/"]);
        assert!(o.server && !o.sender);
        assert_eq!(o.verbose, 1);
        assert!(o.links && o.owner && o.group && o.devices && o.times && o.perms && o.recursive);
        assert!(o.specials, "-D sets devices and specials");
        assert_eq!(o.rsh.as_deref(), Some(".iLsfxCIvu"));
        assert_eq!(o.operands, os(&[".", "dst/"]));
        assert!(!o.list_only, "no implied --list-only on a server");
        let o = run(&[
            "--server",
            "--sender",
            "-logDtpre.iLsfxCIvu",
            "-B2048",
            "--checksum-seed=1",
            "--numeric-ids",
            ".",
            "src/",
        ]);
        assert!(o.server && o.sender && o.numeric_ids);
        assert_eq!((o.block_size, o.checksum_seed), (Some(2048), Some(1)));
        let o = run(&[
            "--server",
            "-ruOIxxe.LsfxCIvu",
            "--checksum-choice=md5",
            "--size-only",
            "--partial",
            "--ignore-existing",
            "--existing",
            "--mkpath",
            "--delete-during",
            "--log-format=%i",
            ".",
            "b",
        ]);
        assert!(o.update && o.omit_dir_times && o.ignore_times && o.size_only && o.partial);
        assert_eq!(o.one_file_system, 2);
        assert_eq!(o.out_format.as_deref(), Some("%i"));
        assert_eq!(o.delete_mode, DeleteMode::During);
        let o = run(&["--server", "-vvvne.LsfxCIvu", "--list-only", ".", "b"]);
        assert!(o.dry_run && o.list_only && o.verbose == 3);
        // `s` in the compact flags: the rest arrives on stdin.
        let o = run(&["--server", "-se.LsfxCIvu"]);
        assert!(o.protect_args && o.server);
        // -s and --old-args exclude each other; --timeout forwards as given.
        let e = err(&["-s", "--old-args", "a", "b"]);
        assert_eq!(e.msg, "--secluded-args conflicts with --old-args.");
        let o = run(&["--old-args", "--old-args", "--timeout=7", "-M-x", "a", "b"]);
        assert_eq!((o.old_args, o.timeout, o.remote_options.len()), (2, 7, 1));
        let e = err(&["-Mx", "a", "b"]);
        assert_eq!(e.msg, "Remote option must start with a dash: x");
    }

    #[test]
    fn server_error_prefix() {
        assert_eq!(
            err_msg(&["--server", "--bogus"]),
            "on remote machine: --bogus: unknown option"
        );
        assert_eq!(err_msg(&["--bogus", "--server"]), "--bogus: unknown option");
        assert_eq!(
            err_msg(&["--server", "--sender", "-X", ".", "x"]),
            "on remote machine: --xattrs: option not yet supported by gensync"
        );
        assert_eq!(
            err_msg(&["--sender", "--server", ".", "x"]),
            "--sender may only be used with --server"
        );
        // -h is never help on a server.
        assert!(matches!(parse(&["--server", "-h"]), Ok(Action::Run(_))));
    }

    #[test]
    fn daemon_flag() {
        let o = run(&["--daemon"]);
        assert!(o.daemon && !o.list_only && o.net.detach);
        let o = run(&["--daemon", "--config=x", "--no-detach", "-M", "motd file=m"]);
        assert_eq!(o.net.config.as_deref(), Some("x"));
        assert!(!o.net.detach);
        assert_eq!(o.net.dparams, vec!["motd file=m".to_string()]);
        assert!(o.remote_options.is_empty());
    }

    #[test]
    fn program_name_is_kept() {
        match parse_with(&os(&["a", "b"]), "gensync", false).unwrap() {
            Action::Run(o) => assert_eq!(o.program_name, "gensync"),
            other => panic!("{other:?}"),
        }
    }
}
