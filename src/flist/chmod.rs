//! `--chmod=CHMOD`: rsync's chmod-style permission edits (upstream:
//! chmod.c parse_chmod(), tweak_mode()). The sending side applies them to
//! every non-symlink entry as the list is built; a receiving client applies
//! its own to the entries it reads (the option never travels).
//!
//! Syntax: comma-separated clauses, each `[D|F][ugoa]*(+|-|=)[rwxXst]*` or
//! `[ugoa]*(+|-|=)[ugo]` (copy another class's bits) or `[D|F]OCTAL`.
//! `D` limits a clause to directories, `F` to everything else. Without a
//! class, the bits are masked by the umask.

const CHMOD_BITS: u32 = 0o7777;
const S_IFDIR: u32 = 0o040000;
const S_IFMT: u32 = 0o170000;

const FLAG_X_KEEP: u8 = 1;
const FLAG_DIRS_ONLY: u8 = 2;
const FLAG_FILES_ONLY: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Eq,
    Set,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    and: u32,
    or: u32,
    copy_src: u32,
    copy_dst: u32,
    copy_and: u32,
    op: Op,
    flags: u8,
}

/// Parsed `--chmod` clauses, in order (several options append).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChmodList {
    clauses: Vec<Clause>,
}

/// setuid/setgid/sticky bits that `=` clears when copying from a class.
fn dest_special_bits(who: u32) -> u32 {
    let mut bits = 0;
    if who & 0o100 != 0 {
        bits |= 0o4000;
    }
    if who & 0o010 != 0 {
        bits |= 0o2000;
    }
    if who & 0o001 != 0 {
        bits |= 0o1000;
    }
    bits
}

impl ChmodList {
    /// Parse one `--chmod` value and append its clauses; None when it is
    /// invalid (nothing is appended then).
    pub fn parse_append(&mut self, s: &[u8], umask: u32) -> Option<()> {
        let mut out = Vec::new();
        for part in s.split(|&c| c == b',') {
            out.push(parse_clause(part, umask)?);
        }
        self.clauses.extend(out);
        Some(())
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// tweak_mode(): the new mode of an entry (type bits kept).
    pub fn tweak(&self, mode: u32) -> u32 {
        let is_x = mode & 0o111 != 0;
        let non_perm = mode & !CHMOD_BITS;
        let is_dir = non_perm & S_IFMT == S_IFDIR;
        let mut mode = mode;
        for c in &self.clauses {
            if c.flags & FLAG_DIRS_ONLY != 0 && !is_dir {
                continue;
            }
            if c.flags & FLAG_FILES_ONLY != 0 && is_dir {
                continue;
            }
            let copy_bits = copy_bits(mode, c.copy_src, c.copy_dst, c.copy_and);
            mode &= c.and;
            if c.flags & FLAG_X_KEEP != 0 && !is_x && !is_dir {
                mode |= c.or & !0o111;
            } else {
                mode |= c.or;
            }
            if c.op == Op::Sub {
                mode &= CHMOD_BITS & !copy_bits;
            } else {
                mode |= copy_bits;
            }
        }
        (mode & CHMOD_BITS) | non_perm
    }
}

fn copy_bits(mode: u32, src: u32, dst: u32, and: u32) -> u32 {
    let mut bits = 0;
    if src & 0o100 != 0 {
        bits |= (mode >> 6) & 7;
    }
    if src & 0o010 != 0 {
        bits |= (mode >> 3) & 7;
    }
    if src & 0o001 != 0 {
        bits |= mode & 7;
    }
    (dst * bits) & and
}

/// One clause (parse_chmod()'s state machine, one comma-separated part).
fn parse_clause(s: &[u8], umask: u32) -> Option<Clause> {
    let (mut who, mut what, mut topbits, mut topoct, mut flags, mut copy) =
        (0u32, 0u32, 0u32, 0u32, 0u8, 0u32);
    let mut op = None;
    let mut i = 0;
    // First half: D/F, classes, then the operator or an octal number.
    while i < s.len() && op.is_none() {
        match s[i] {
            b'D' if flags & FLAG_FILES_ONLY == 0 => flags |= FLAG_DIRS_ONLY,
            b'F' if flags & FLAG_DIRS_ONLY == 0 => flags |= FLAG_FILES_ONLY,
            b'u' => {
                who |= 0o100;
                topbits |= 0o4000;
            }
            b'g' => {
                who |= 0o010;
                topbits |= 0o2000;
            }
            b'o' => who |= 0o001,
            b'a' => {
                who |= 0o111;
                topbits |= 0o6000;
            }
            b'+' => op = Some(Op::Add),
            b'-' => op = Some(Op::Sub),
            b'=' => op = Some(Op::Eq),
            c @ b'0'..=b'7' if who == 0 => {
                op = Some(Op::Set);
                who = 1;
                what = (c - b'0') as u32;
            }
            _ => return None,
        }
        i += 1;
    }
    let op = op?;
    for &c in &s[i..] {
        if op == Op::Set {
            match c {
                b'0'..=b'7' => {
                    what = what * 8 + (c - b'0') as u32;
                    if what > CHMOD_BITS {
                        return None;
                    }
                }
                _ => return None,
            }
            continue;
        }
        let plain = |copy: u32| if copy != 0 { None } else { Some(()) };
        match c {
            b'r' => {
                plain(copy)?;
                what |= 4;
            }
            b'w' => {
                plain(copy)?;
                what |= 2;
            }
            b'X' | b'x' => {
                plain(copy)?;
                if c == b'X' {
                    flags |= FLAG_X_KEEP;
                }
                what |= 1;
            }
            b's' => {
                plain(copy)?;
                topoct = if topbits != 0 {
                    topoct | topbits
                } else {
                    0o4000
                };
            }
            b't' => {
                plain(copy)?;
                topoct |= 0o1000;
            }
            b'u' | b'g' | b'o' => {
                if what != 0 || topoct != 0 || copy != 0 {
                    return None;
                }
                copy = match c {
                    b'u' => 0o100,
                    b'g' => 0o010,
                    _ => 0o001,
                };
            }
            _ => return None,
        }
    }
    let specified = who != 0;
    let bits = if specified {
        who * what
    } else {
        who = 0o111;
        (who * what) & !umask
    };
    let copy_and = if specified { CHMOD_BITS } else { !umask };
    let c = match op {
        Op::Add => Clause {
            and: CHMOD_BITS,
            or: bits + topoct,
            copy_src: copy,
            copy_dst: who,
            copy_and,
            op,
            flags,
        },
        Op::Sub => Clause {
            and: CHMOD_BITS.wrapping_sub(bits + topoct),
            or: 0,
            copy_src: copy,
            copy_dst: who,
            copy_and,
            op,
            flags,
        },
        Op::Eq => Clause {
            and: CHMOD_BITS
                .wrapping_sub(who * 7)
                .wrapping_sub(if topoct != 0 { topbits } else { 0 })
                .wrapping_sub(if copy != 0 { dest_special_bits(who) } else { 0 }),
            or: bits + topoct,
            copy_src: copy,
            copy_dst: who,
            copy_and,
            op,
            flags,
        },
        Op::Set => Clause {
            and: 0,
            or: bits,
            copy_src: 0,
            copy_dst: 0,
            copy_and: CHMOD_BITS,
            op,
            flags,
        },
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tw(spec: &str, mode: u32) -> u32 {
        let mut l = ChmodList::default();
        l.parse_append(spec.as_bytes(), 0o022).expect("valid");
        l.tweak(mode)
    }

    #[test]
    fn clauses() {
        assert_eq!(tw("go-w", 0o100666), 0o100644);
        assert_eq!(tw("u+x", 0o100644), 0o100744);
        assert_eq!(tw("Dg+s,Fo-r", 0o040755), 0o042755);
        assert_eq!(tw("Dg+s,Fo-r", 0o100644), 0o100640);
        assert_eq!(tw("644", 0o100777), 0o100644);
        assert_eq!(tw("D755,F644", 0o040700), 0o040755);
        assert_eq!(tw("a+X", 0o100644), 0o100644);
        assert_eq!(tw("a+X", 0o040600), 0o040711);
        assert_eq!(tw("+x", 0o100600), 0o100711);
        assert_eq!(tw("g=u", 0o100640), 0o100660);
        assert_eq!(tw("o=", 0o100647), 0o100640);
    }

    #[test]
    fn rejects() {
        let mut l = ChmodList::default();
        for bad in ["", "x", "u", "DF+x", "u+q", "8", "u+ur", "17777", "a,u+x"] {
            assert!(l.parse_append(bad.as_bytes(), 0).is_none(), "{bad}");
        }
        assert!(l.is_empty());
    }
}
