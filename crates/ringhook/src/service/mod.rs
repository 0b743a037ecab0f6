//! The HTTP API: the route table, the subscription operations, publishing, Firebase token checks, rate limits,
//! the live stream's tickets and frames, and what a user's object (the single writer of that user's state) is
//! asked and decides.

pub mod firebase;
pub mod http;
pub mod object;
pub mod publish;
pub mod ratelimit;
pub mod routes;
pub mod stream;
pub mod subscriptions;
