//! Sans-IO codec for the NATS client protocol: bytes in, client operations out;
//! server operations in, bytes out. No sockets, no runtime. Beside it, the
//! protocol between the servers of a cluster (`route`).
//!
//! The core server drives this crate from its connection tasks; tests drive it
//! from plain byte slices, split at any position.

pub mod encode;
pub mod message;
pub mod parser;
pub mod route;
pub mod subject;

pub use encode::{ERR_PREFIX, OK, PING, PONG};
pub use message::{ConnectOptions, ServerInfo};
pub use parser::{ClientOp, Parser, ProtocolError};
