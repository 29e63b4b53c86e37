//! The `-C` / `--cvs-exclude` default list (upstream: the list in rsync.1.md
//! that its build turns into DEFAULT_CVSIGNORE). Whitespace-separated, read
//! as a word-split, no-prefix exclude list; the entries are perishable when
//! the protocol is >= 30 (exclude.c get_cvs_excludes()).

pub const DEFAULT_CVSIGNORE: &str = "RCS SCCS CVS CVS.adm RCSLOG cvslog.* tags TAGS \
.make.state .nse_depinfo *~ #* .#* ,* _$* *$ *.old *.bak *.BAK *.orig *.rej \
.del-* *.a *.olb *.o *.obj *.so *.exe *.Z *.elc *.ln core .svn/ .git/ .hg/ .bzr/";

/// Name of the per-directory file `:C` reads when no name is given.
pub const CVSIGNORE_FILE: &[u8] = b".cvsignore";
