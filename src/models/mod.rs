//! Which models cmdai knows, where they live on disk, and how they get there.

pub mod catalog;
pub mod fetch;
pub mod resolve;
pub mod store;
