//! The delta-transfer algorithm: the weak rolling checksum, the block sums a
//! generator sends for its basis file, and the sender's matcher that turns a
//! new file plus those sums into literal and block-match tokens
//! (upstream: checksum.c get_checksum1(), generator.c sum_sizes_sqroot() and
//! generate_and_send_sums(), match.c).

pub mod matcher;
pub mod rolling;
pub mod signature;
