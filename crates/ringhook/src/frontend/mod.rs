//! What a page receiving call events decides: which to apply, which are duplicates or stale.

pub mod dispatch;
