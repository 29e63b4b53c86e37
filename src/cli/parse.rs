//! Stand-in parser (replaced by the full popt-compatible one).
use crate::options::{DeleteMode, Options};
use crate::{Error, Result};
use std::ffi::OsString;

pub enum Action {
    Run(Box<Options>),
    Help,
    Version,
}

pub fn parse_args(args: &[OsString], program_name: &str) -> Result<Action> {
    let mut o = Options {
        program_name: program_name.to_string(),
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy().to_string();
        if let Some(l) = s.strip_prefix("--") {
            let (k, v) = match l.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (l, None),
            };
            match k {
                "delete" => o.delete_mode = DeleteMode::Auto,
                "server" => o.server = true,
                "rsync-path" => o.rsync_path = v,
                "log-format" => {}
                "sender" => o.sender = true,
                "stats" => o.stats = true,
                "checksum-seed" => o.checksum_seed = v.and_then(|v| v.parse().ok()),
                "no-whole-file" => o.whole_file = Some(false),
                "protocol" => o.protocol = v.and_then(|v| v.parse().ok()),
                "checksum-choice" => o.checksum_choice = v,
                "help" => return Ok(Action::Help),
                "version" => return Ok(Action::Version),
                _ => return Err(Error::syntax(format!("--{k}: unknown option"))),
            }
        } else if s.starts_with('-') && s.len() > 1 {
            let cs: Vec<char> = s[1..].chars().collect();
            for (i, &c) in cs.iter().enumerate() {
                if c == 'e' {
                    let v: String = cs[i + 1..].iter().collect();
                    o.rsh = Some(if v.is_empty() {
                        it.next()
                            .map(|x| x.to_string_lossy().to_string())
                            .unwrap_or_default()
                    } else {
                        v
                    });
                    break;
                }
                match c {
                    'o' => o.owner = true,
                    'g' => o.group = true,
                    'D' => {
                        o.devices = true;
                        o.specials = true;
                    }
                    'a' => {
                        o.recursive = true;
                        o.links = true;
                        o.perms = true;
                        o.times = true;
                        o.group = true;
                        o.owner = true;
                        o.devices = true;
                        o.specials = true;
                    }
                    'v' => o.verbose += 1,
                    'i' => o.itemize_changes += 1,
                    'n' => o.dry_run = true,
                    'r' => o.recursive = true,
                    'l' => o.links = true,
                    'p' => o.perms = true,
                    't' => o.times = true,
                    'c' => o.checksum = true,
                    'W' => o.whole_file = Some(true),
                    'I' => o.ignore_times = true,
                    _ => return Err(Error::syntax(format!("-{c}: unknown option"))),
                }
            }
        } else {
            o.operands.push(a.clone());
        }
    }
    if o.operands.len() == 1 && !o.server { o.list_only = true; }
    if o.list_only && !o.recursive { o.dirs = true; }
    Ok(Action::Run(Box::new(o)))
}
