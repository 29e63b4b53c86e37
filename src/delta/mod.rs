//! Stand-in (replaced by the full implementation).
pub mod matcher;
pub mod rolling;
pub mod signature;
