//! Native integration tests of the core crate.
#![cfg(not(target_arch = "wasm32"))]

mod json_props;
mod openapi;
mod service;
mod signatures;
mod validation;
mod vectors;
